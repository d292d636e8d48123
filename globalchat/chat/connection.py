"""
What a session needs of a transport: the one interface every transport
(a TCP or TLS line port, a WebSocket, a test's list) provides.
"""

from zope.interface import Attribute, Interface


class IConnection(Interface):
    """
    A transport as a session sees it.
    """

    peer = Attribute("A printable address of the client, for logs.")
    host = Attribute("The client's IP address as text; '' when it has none (a Unix socket).")
    certificate = Attribute("The client's TLS certificate (an OpenSSL X509), or None.")
    kind = Attribute("The kind of port it came through (tcp, tls, web, ...), which "
                     "connections are counted by.")

    def write(data: bytes) -> None:
        """
        Send one or more whole lines, each ended by C{wire.EOL}: a transport
        that frames by line (a WebSocket) may split on it.
        """

    def close() -> None:
        """
        Hang up once what was written is delivered.
        """

    def abort() -> None:
        """
        Hang up now, dropping what is unsent.
        """


class SessionProducer:
    """
    The half of L{IPushProducer} every transport shares: its transport's
    back-pressure is its session's to act on (the slow-reader bound).

    @ivar _session: the session, once there is one.
    """

    __slots__ = ()

    def pauseProducing(self) -> None:
        if self._session is not None:
            self._session.pauseProducing()

    def resumeProducing(self) -> None:
        if self._session is not None:
            self._session.resumeProducing()

    def stopProducing(self) -> None:
        pass
