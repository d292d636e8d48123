# -*- test-case-name: tests.test_web_websocket -*-
"""
The WebSocket transport (C{/ws} on a C{--web} port): the line protocol
with one line per text frame, for browsers.

autobahn does the WebSocket framing and handshake (RFC 6455 is easy to
get subtly wrong, and autobahn is the maintained implementation for
Twisted); L{ChatWebSocket} only turns frames into lines for a
L{globalchat.chat.session.Session} and back, as
L{globalchat.server.ChatProtocol} does for bytes, so a browser lives by
the same admission, rate, length and slow-reader rules as any client.
"""

from __future__ import annotations

from autobahn.twisted.resource import WebSocketResource
from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny, ConnectionRequest
from twisted.internet.interfaces import IPushProducer, IReactorTime, ISSLTransport
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat import wire
from globalchat.chat.admission import Admission
from globalchat.chat.connection import IConnection, SessionProducer
from globalchat.chat.session import Session
from globalchat.server import DEFAULT_MAX_LINE_LENGTH, describePeer
from globalchat.web.gate import Gate

#: The opcode of a text frame.
TEXT_FRAME = 1

#: Close codes (RFC 6455, section 7.4.1) the server ends a chat with.
CLOSE_NORMAL = 1000
CLOSE_BINARY = 1003
CLOSE_TOO_BIG = 1009

#: Seconds a browser has to answer the server's close frame before the
#: connection is dropped.
CLOSE_GRACE = 5.0

#: Not the protocol's C{log}, which is autobahn's, at its own level.
log = Logger()


@implementer(IConnection, IPushProducer)
class ChatWebSocket(WebSocketServerProtocol, SessionProducer):
    """
    One browser's chat connection.

    @ivar host: the client's address (behind a trusted proxy, the one it
        forwarded).
    """

    certificate = None
    host = ""
    kind = "web"
    _session: Session | None = None
    _closing = None

    def onConnect(self, request: ConnectionRequest) -> None:
        """
        Refuse the handshake from a page of another site, or from an
        address that may not connect; otherwise accept it, with no
        subprotocol.
        """
        factory = self.factory
        peer = self.transport.getPeer()
        address = getattr(peer, "host", "")
        forwarded = factory.gate.trusted(address)
        secure = ISSLTransport.providedBy(self.transport) or (
            forwarded and request.headers.get("x-forwarded-proto", "").lower() == "https")
        self.host = factory.gate.client(address, [request.headers.get("x-forwarded-for", "")])
        self.peer = describePeer(peer) if self.host == address else f"{self.host} via {describePeer(peer)}"
        origin = request.headers.get("origin")
        if not factory.gate.allows(origin, request.headers.get("host", ""), secure):
            log.warn("refused {peer}: a page of {origin} opened it", peer=self.peer,
                     origin=origin, security="bad-origin")
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "this origin may not connect")
        if forwarded and not factory.admission.screen(self.host, self.peer):
            raise ConnectionDeny(ConnectionDeny.FORBIDDEN, "refused")

    def onOpen(self) -> None:
        # Registered first, since a refusal closes, which unregisters.
        self.transport.registerProducer(self, True)
        self._session = self.factory.admission.connect(self)

    def onMessageBegin(self, isBinary: bool) -> None:
        super().onMessageBegin(isBinary)
        if isBinary:
            log.warn("{peer} sent a binary frame", peer=self.peer, security="binary-frame")
            self.sendCloseFrame(CLOSE_BINARY, b"binary frames are refused: send one line of "
                                              b"text per frame")

    def dataReceived(self, data: bytes) -> None:
        """
        The lines of one read are stored and delivered together, as on
        the line ports: a browser's burst is one transaction, not one
        per line.
        """
        with self.factory.admission.hub.batch():
            super().dataReceived(data)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        """
        One text frame: one line, without a line ending.
        """
        if self._session is not None and not isBinary:
            self._session.receive(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if self.wasMaxMessagePayloadSizeExceeded or self.wasMaxFramePayloadSizeExceeded:
            log.warn("{peer} sent a line over {limit} bytes: closed with {code}",
                     peer=self.peer, limit=self.factory.maxLineLength, code=CLOSE_TOO_BIG,
                     security="line-too-long")

    def write(self, data: bytes) -> None:
        if self.state != self.STATE_OPEN:
            return
        # Frames rather than messages: sendMessage would hold the server's
        # lines to the limit of the client's (maxMessagePayloadSize).
        for line in data.split(wire.EOL)[:-1]:
            self.sendFrame(TEXT_FRAME, line)

    def close(self) -> None:
        # autobahn unregisters this producer when it drops the connection.
        self.sendClose(CLOSE_NORMAL)
        if self._closing is None:
            self._closing = self.factory.clock.callLater(CLOSE_GRACE, self.abort)

    def abort(self) -> None:
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure) -> None:
        super().connectionLost(reason)
        if self._closing is not None and self._closing.active():
            self._closing.cancel()
        if self._session is not None:
            log.info("{peer} disconnected: {reason}", peer=self.peer,
                     reason=reason.getErrorMessage())
            session, self._session = self._session, None
            session.disconnected()


class ChatSocketFactory(WebSocketServerFactory):
    """
    Makes a L{ChatWebSocket} for each browser of the server's web ports.

    @ivar admission: the door every port of the server shares.
    @ivar gate: the trusted proxies and allowed origins.
    @ivar maxLineLength: the longest line (frame payload) accepted.
    @ivar clock: the time the closing handshake is bounded with.
    """

    protocol = ChatWebSocket

    def __init__(self, admission: Admission, gate: Gate, clock: IReactorTime,
                 maxLineLength: int = DEFAULT_MAX_LINE_LENGTH) -> None:
        super().__init__()
        self.admission = admission
        self.gate = gate
        self.clock = clock
        self.maxLineLength = maxLineLength
        # autobahn's own timers run on the global reactor; the close is
        # bounded with ours instead (ChatWebSocket.close), and the
        # handshake has been read by twisted.web before autobahn sees it.
        # A refusal is a close frame with its code, which a browser can
        # show, rather than a dropped connection.
        self.setProtocolOptions(maxFramePayloadSize=maxLineLength,
                                maxMessagePayloadSize=maxLineLength,
                                openHandshakeTimeout=0, closeHandshakeTimeout=0,
                                failByDrop=False)


class ChatSocketResource(WebSocketResource):
    """
    C{/ws}: hands the request's connection over to a L{ChatWebSocket}.
    """

    def render(self, request):
        channel = request.channel
        if channel.transport is not None:
            # A chat is not an HTTP request: no HTTP idle time-out, and the
            # chat, not the HTTP channel, hears of the client's back-pressure.
            channel.setTimeout(None)
            channel.transport.unregisterProducer()
        return super().render(request)
