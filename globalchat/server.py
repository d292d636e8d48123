# -*- test-case-name: tests.test_server -*-
"""
The network side of the chat server: bytes in, calls on the hub, bytes out.

L{ChatProtocol} owns framing and decoding and nothing else; what a line
means is decided by L{globalchat.chat.hub}.
"""

from __future__ import annotations

from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import ServerFactory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat import wire
from globalchat.chat.hub import Hub, IParticipant, Session
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


@implementer(IParticipant)
class ChatProtocol(LineReceiver):
    """
    One client connection.

    Lines end in LF or CRLF and are UTF-8.  L{LineReceiver} would close
    the connection on an over-long line and throw away whatever followed it
    in the buffer; a chat must drop exactly that one line, tell the sender,
    and carry on, so framing is done here.

    @ivar peer: the client's address, for logs.
    """

    delimiter = b"\n"
    log = Logger()

    peer = "?"
    _session: Session | None = None
    _firstLine = True
    _pending = b""
    _discarding = False

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.factory.maxLineLength
        self.peer = describePeer(self.transport.getPeer())
        self._session = self.factory.hub.connect(self)
        self.log.info("{peer} connected", peer=self.peer)

    def dataReceived(self, data: bytes) -> None:
        """
        Split C{data} into lines, dropping (and reporting) any line longer
        than L{MAX_LENGTH} bytes without losing the ones around it.
        """
        if self._discarding:
            # Still inside a line already reported as too long.
            end = data.find(b"\n")
            if end == -1:
                return
            data = data[end + 1 :]
            self._discarding = False
        lines = (self._pending + data).split(b"\n")
        self._pending = lines.pop()
        for raw in lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if len(raw) > self.MAX_LENGTH:
                self.lineLengthExceeded(raw)
            else:
                self.lineReceived(raw)
            if self.transport.disconnecting:
                return
        # One byte of slack for the CR of a CRLF still on its way.
        if len(self._pending) > self.MAX_LENGTH + 1:
            self.lineLengthExceeded(self._pending)
            self._pending = b""
            self._discarding = True

    def lineLengthExceeded(self, line: bytes) -> None:
        self.log.info("{peer} sent a line too long", peer=self.peer)
        self.send(wire.error(f"line too long (max {self.MAX_LENGTH} bytes)"))

    def lineReceived(self, line: bytes) -> None:
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.send(wire.error("invalid UTF-8, line dropped"))
            return
        first, self._firstLine = self._firstLine, False
        if first and self.factory.probes is not None and text.startswith("/probe"):
            self._probe(text)
            return
        self._session.lineReceived(text)

    def _probe(self, request: str) -> None:
        """
        Answer a reachability probe request (C{--probe-helper}) and hang up.
        """
        requester = getattr(self.transport.getPeer(), "host", "")
        answering = ensureDeferred(self.factory.probes.answer(requester, request))

        def answered(reply: str) -> None:
            self.send(wire.line(reply))
            self.transport.loseConnection()

        answering.addCallback(answered)

    def send(self, data: bytes) -> None:
        """
        Write finished wire bytes to the client.
        """
        self.transport.write(data)

    def close(self) -> None:
        """
        Hang up once what was written has been sent.
        """
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:
        self.log.info(
            "{peer} disconnected: {reason}",
            peer=self.peer,
            reason=reason.getErrorMessage(),
        )
        if self._session is not None:
            self._session.disconnected()
            self._session = None


class ChatFactory(ServerFactory):
    """
    Makes a L{ChatProtocol} for each client, all sharing one hub.

    @ivar hub: the chat every connection of this server joins.
    @ivar maxLineLength: the longest line accepted, in bytes.
    @ivar probes: answers reachability probes (C{--probe-helper}), or
        C{None} when this server does not offer them.
    """

    protocol = ChatProtocol
    noisy = False

    def __init__(
        self,
        hub: Hub,
        maxLineLength: int = DEFAULT_MAX_LINE_LENGTH,
        probes: ProbeHelper | None = None,
    ) -> None:
        self.hub = hub
        self.maxLineLength = maxLineLength
        self.probes = probes
