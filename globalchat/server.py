# -*- test-case-name: tests.test_server -*-
"""
The line transport (C{tcp:}, C{ssl:}, C{unix:}, C{onion:} ports): bytes
in, lines to a L{Session}, bytes out.

L{ChatProtocol} owns framing and nothing else; the rules of a connection
are L{globalchat.chat.session}'s and what a line means is the hub's.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.internet.abstract import FileDescriptor
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IAddress, INegotiated, IPushProducer
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat import wire
from globalchat.chat.admission import Admission
from globalchat.chat.connection import IConnection, SessionProducer
from globalchat.chat.session import Session
from globalchat.expose.probe import ProbeHelper

DEFAULT_MAX_LINE_LENGTH = 4096


def describePeer(address: IAddress) -> str:
    """
    A short printable form of a peer address for logs: C{host:port} for
    IP addresses, the address's own C{repr} otherwise.
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None or port is None:
        return repr(address)
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def _knownEarly(transport: object) -> None:
    """
    Set the two attributes a Twisted transport otherwise first sets at its
    first write, as soon as it exists.

    CPython keeps an object's attributes inline, without a dictionary, as
    long as the names were known to its class when the object was made.
    When a crowd connects before the first of them has written anything,
    every transport made meanwhile gets a dictionary at its first write
    (about 800 bytes each: a third of an idle connection's memory).
    """
    if isinstance(transport, FileDescriptor):
        transport.dataBuffer = transport.dataBuffer
        transport.offset = transport.offset


@implementer(IConnection, IPushProducer)
class ChatProtocol(Protocol, SessionProducer):
    """
    One client connection.

    Lines end in LF or CRLF.  L{LineReceiver} would close the connection
    on an over-long line and throw away whatever followed it in the
    buffer; a chat must drop exactly that one line, tell the sender, and
    carry on, so framing is done here.

    The protocol is also the producer of its transport's output: its
    session is told when the client stops reading, and bounds what it is
    then owed.

    Connections are what a server has most of, so their state lives in
    slots: an instance dictionary would cost several hundred bytes each.
    """

    __slots__ = ("factory", "transport", "connected", "host", "_maxLength", "_session",
                 "_firstLine", "_pending", "_discarding")

    log = Logger()

    def __init__(self) -> None:
        self.factory: ChatFactory | None = None
        self.transport = None
        self.connected = 0
        self.host = ""
        self._maxLength = DEFAULT_MAX_LINE_LENGTH
        self._session: Session | None = None
        self._firstLine = True
        self._pending = b""
        self._discarding = False

    def connectionMade(self) -> None:
        _knownEarly(self.transport)
        self._maxLength = self.factory.maxLineLength
        self.host = getattr(self.transport.getPeer(), "host", "")
        # Registered first, since a refusal closes, which unregisters.
        self.transport.registerProducer(self, True)
        self._session = self.factory.admission.connect(self, self.factory.sessionType)

    @property
    def peer(self) -> str:
        """
        The client's address, for logs (made when asked: it is seldom).
        """
        return describePeer(self.transport.getPeer()) if self.transport is not None else "?"

    @property
    def certificate(self):
        """
        The client's TLS certificate, on a port that asks for one.
        """
        getPeerCertificate = getattr(self.transport, "getPeerCertificate", None)
        return getPeerCertificate() if getPeerCertificate is not None else None

    @property
    def kind(self) -> str:
        """
        C{tls} on a TLS port, C{tcp} on the others (C{unix:}, C{onion:}
        and plain TCP): what connections are counted by.
        """
        return "tls" if INegotiated.providedBy(self.transport) else "tcp"

    def dataReceived(self, data: bytes) -> None:
        """
        Split C{data} into lines, dropping (and reporting) any line longer
        than the limit without losing the ones around it.
        """
        session = self._session
        if session is None:
            return
        hub = self.factory.admission.hub
        hub.counters.bytesIn += len(data)
        if self._firstLine and not self._pending and data[:2] == b"\x16\x03":
            # A TLS ClientHello: the client expected a TLS port.
            self.log.warn("{peer} tried TLS on a plaintext port", peer=self.peer,
                          security="tls-failure")
            session.answer(session.render.error("this port is not TLS: connect without TLS"))
            session.close()
            return
        if self._discarding:
            # Still inside a line already reported as too long.
            end = data.find(b"\n")
            if end == -1:
                return
            data = data[end + 1 :]
            self._discarding = False
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        # The messages of one read are stored and delivered together.
        with hub.batch():
            for raw in lines:
                if raw.endswith(b"\r"):
                    raw = raw[:-1]
                if len(raw) > self._maxLength:
                    session.lineTooLong(self._maxLength)
                elif self._firstLine and self.factory.probes is not None \
                        and raw.startswith(b"/probe"):
                    self._probe(raw.decode("utf-8", "replace"))
                else:
                    self._firstLine = False
                    session.receive(raw)
                if self.transport.disconnecting:
                    return
        # One byte of slack for the CR of a CRLF still on its way.
        if len(self._pending) > self._maxLength + 1:
            session.lineTooLong(self._maxLength)
            self._pending = b""
            self._discarding = True

    def _probe(self, request: str) -> None:
        """
        Answer a reachability probe request (C{--probe-helper}) and hang up.
        """
        answering = ensureDeferred(self.factory.probes.answer(self.host, request))

        def answered(reply: str) -> None:
            self._session.answer(wire.line(reply))
            self._session.close()

        answering.addCallback(answered)

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        # A registered streaming producer would keep the transport waiting
        # to resume it instead of closing.
        self.transport.unregisterProducer()
        self.transport.loseConnection()

    def abort(self) -> None:
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure) -> None:
        if reason.check(SSL.Error):
            self.log.warn(
                "{peer} failed the TLS handshake ({reason}): a client without TLS on a "
                "TLS port, or one that does not trust this server's certificate",
                peer=self.peer, reason=reason.getErrorMessage(), security="tls-failure",
            )
        else:
            self.log.info("{peer} disconnected: {reason}", peer=self.peer,
                          reason=reason.getErrorMessage())
        if self._session is not None:
            session, self._session = self._session, None
            session.disconnected()


class ChatFactory(ServerFactory):
    """
    Makes a L{ChatProtocol} for each client of one listening port.

    @ivar admission: the door every port of the server shares.
    @ivar maxLineLength: the longest line accepted, in bytes.
    @ivar probes: answers reachability probes (C{--probe-helper}), or
        C{None} when this server does not offer them.
    """

    protocol = ChatProtocol
    noisy = False

    #: The session class of the protocol the port speaks.
    sessionType: type[Session] = Session

    def __init__(self, admission: Admission, maxLineLength: int = DEFAULT_MAX_LINE_LENGTH,
                 probes: ProbeHelper | None = None) -> None:
        self.admission = admission
        self.maxLineLength = maxLineLength
        self.probes = probes

    def buildProtocol(self, addr: IAddress) -> ChatProtocol | None:
        """
        Refuse addresses that may not connect before reading a byte from
        them: Twisted closes a connection whose factory builds nothing.
        """
        host = getattr(addr, "host", None)
        if host is not None and not self.admission.screen(host, describePeer(addr)):
            return None
        return super().buildProtocol(addr)
