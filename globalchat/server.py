# -*- test-case-name: tests.test_server -*-
"""
The network side of the chat server: bytes in, calls on the hub, bytes out.

L{ChatProtocol} owns framing and decoding and nothing else; what a line
means is decided by L{globalchat.chat.hub}.
"""

from __future__ import annotations

from collections import deque

from OpenSSL import SSL
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IAddress, IPushProducer, IReactorTime
from twisted.internet.protocol import ServerFactory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat import wire
from globalchat.chat.hub import Hub, IParticipant, Session
from globalchat.expose.probe import ProbeHelper
from globalchat.policy import Gatekeeper, Limits, TokenBucket
from globalchat.tls import commonName

DEFAULT_MAX_LINE_LENGTH = 4096

#: A client may be owed this many times C{--max-send-buffer} for a moment
#: (L{Limits.slowGrace}) before it is dropped at once.
SLOW_HARD_LIMIT = 4


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


@implementer(IParticipant, IPushProducer)
class ChatProtocol(LineReceiver):
    """
    One client connection.

    Lines end in LF or CRLF and are UTF-8.  L{LineReceiver} would close
    the connection on an over-long line and throw away whatever followed it
    in the buffer; a chat must drop exactly that one line, tell the sender,
    and carry on, so framing is done here.

    The protocol is also the producer of its transport's output: when the
    transport's buffer is full (the client stopped reading) it is paused,
    and what is sent while paused is counted, so that a client that never
    reads is dropped after a bounded amount instead of growing the
    server's memory without end.

    Connections are what a server has most of, so their state lives in
    slots: an instance dictionary would cost several hundred bytes each.
    """

    __slots__ = ("factory", "transport", "connected", "MAX_LENGTH", "_host",
                 "_session", "_firstLine", "_pending", "_discarding", "_paused", "_pausedAt",
                 "_drops", "_unsent", "_gone", "_connectedAt", "_lastHeard", "_bucket")

    delimiter = b"\n"
    log = Logger()

    def __init__(self) -> None:
        self.factory: ChatFactory | None = None
        self.transport = None
        self.connected = 0
        self.MAX_LENGTH = DEFAULT_MAX_LINE_LENGTH
        self._host = ""
        self._session: Session | None = None
        self._firstLine = True
        self._pending = b""
        self._discarding = False
        self._paused = False
        self._pausedAt = 0.0
        self._drops: deque[float] | None = None
        self._unsent = 0
        self._gone = False

    def connectionMade(self) -> None:
        factory = self.factory
        self.MAX_LENGTH = factory.maxLineLength
        self._host = getattr(self.transport.getPeer(), "host", "")
        refusal = factory.gatekeeper.admit(self._host)
        if refusal is not None:
            self.log.warn("refused {peer}: {reason}", peer=self.peer, reason=refusal,
                          security="over-limit")
            self.transport.write(wire.error(refusal))
            self.transport.loseConnection()
            return
        now = factory.clock.seconds()
        self._connectedAt = self._lastHeard = now
        self._bucket = TokenBucket(factory.limits.rate, factory.limits.burst, now)
        self.transport.registerProducer(self, True)
        factory.connections.add(self)
        self._session = factory.hub.connect(self)
        self.log.info("{peer} connected", peer=self.peer)

    @property
    def peer(self) -> str:
        """
        The client's address, for logs (made when asked: it is seldom).
        """
        return describePeer(self.transport.getPeer()) if self.transport is not None else "?"

    def dataReceived(self, data: bytes) -> None:
        """
        Split C{data} into lines, dropping (and reporting) any line longer
        than L{MAX_LENGTH} bytes without losing the ones around it.
        """
        if self._session is None:
            return
        if self._firstLine and not self._pending and data[:2] == b"\x16\x03":
            # A TLS ClientHello: the client expected a TLS port.
            self.log.warn("{peer} tried TLS on a plaintext port", peer=self.peer,
                          security="tls-failure")
            self.send(wire.error("this port is not TLS: connect without --tls"))
            self.close()
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
        with self.factory.hub.batch():
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
        self._session.reply(wire.error(f"line too long (max {self.MAX_LENGTH} bytes)"))

    def lineReceived(self, line: bytes) -> None:
        now = self.factory.clock.seconds()
        self._lastHeard = now
        if not self._bucket.take(now):
            self._flooded(now)
            return
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self._session.reply(wire.error("invalid UTF-8, line dropped"))
            return
        first, self._firstLine = self._firstLine, False
        if first and self.factory.probes is not None and text.startswith("/probe"):
            self._probe(text)
            return
        self._session.lineReceived(text)

    def _flooded(self, now: float) -> None:
        """
        A line over the rate limit: drop it, say so once, and cut off a
        connection that keeps on.
        """
        limits = self.factory.limits
        if self._drops is None:
            # Made on the first dropped line: most connections never need it.
            self._drops = deque()
        self._drops.append(now)
        while self._drops[0] <= now - limits.floodWindow:
            self._drops.popleft()
        if len(self._drops) == 1:
            self._session.reply(wire.error(
                f"too many lines, slow down (at most {limits.rate:g} a second); lines dropped"))
        if len(self._drops) > limits.floodLimit:
            self.log.warn("{peer} cut off for flooding", peer=self.peer, security="flood")
            self.send(wire.error("flooding: disconnected"))
            self.close()
            self.factory.strike(self)

    def checkTimeouts(self, now: float) -> None:
        """
        Close a connection that gave no name in time, or fell silent for
        longer than the idle timeout.
        """
        limits = self.factory.limits
        if self._session is None or (self._paused and self._tooSlow(now)):
            return
        if self._session.name is None and now - self._connectedAt >= limits.loginTimeout:
            self.log.info("{peer} gave no name in time", peer=self.peer, security="login-timeout")
            self.send(wire.error(f"no name given within {limits.loginTimeout:g} s"))
            self.close()
        elif limits.idleTimeout is not None and now - self._lastHeard >= limits.idleTimeout:
            self.log.info("{peer} idle for too long", peer=self.peer)
            self.send(wire.error(f"idle for {limits.idleTimeout:g} s"))
            self.close()

    def _probe(self, request: str) -> None:
        """
        Answer a reachability probe request (C{--probe-helper}) and hang up.
        """
        requester = getattr(self.transport.getPeer(), "host", "")
        answering = ensureDeferred(self.factory.probes.answer(requester, request))

        def answered(reply: str) -> None:
            self.send(wire.line(reply))
            self.close()

        answering.addCallback(answered)

    @property
    def certifiedName(self) -> str | None:
        """
        The common name of the client's certificate, on a server that
        requires one (C{--client-ca}).
        """
        if not self.factory.certifiedNames:
            return None
        getPeerCertificate = getattr(self.transport, "getPeerCertificate", None)
        certificate = getPeerCertificate() if getPeerCertificate is not None else None
        return commonName(certificate) if certificate is not None else None

    def send(self, data: bytes) -> None:
        """
        Write finished wire bytes to the client, unless it has stopped
        reading for longer than its send buffer allows.
        """
        if self._gone:
            return
        if self._paused:
            self._unsent += len(data)
            if self._tooSlow(self.factory.clock.seconds()):
                return
        self.transport.write(data)

    def _tooSlow(self, now: float) -> bool:
        """
        Drop the connection if the client is owed more than it may be.
        """
        limits = self.factory.limits
        if not (self._unsent > SLOW_HARD_LIMIT * limits.maxSendBuffer or (
                self._unsent > limits.maxSendBuffer and now - self._pausedAt >= limits.slowGrace)):
            return False
        self.log.warn("{peer} dropped: it stopped reading ({size} bytes unsent)",
                      peer=self.peer, size=self._unsent, security="slow-reader")
        self._gone = True
        self.transport.abortConnection()
        return True

    def close(self) -> None:
        """
        Hang up once what was written has been sent.
        """
        if not self._gone:
            self._gone = True
            # A registered streaming producer would keep the transport
            # waiting to resume it instead of closing.
            self.transport.unregisterProducer()
            self.transport.loseConnection()

    def pauseProducing(self) -> None:
        self._paused = True
        self._pausedAt = self.factory.clock.seconds()

    def resumeProducing(self) -> None:
        self._paused = False
        self._unsent = 0

    def stopProducing(self) -> None:
        self._gone = True

    def connectionLost(self, reason: Failure) -> None:
        if reason.check(SSL.Error):
            self.log.warn(
                "{peer} failed the TLS handshake ({reason}): a client without TLS on a "
                "TLS port, or one that does not trust this server's certificate",
                peer=self.peer, reason=reason.getErrorMessage(), security="tls-failure",
            )
        else:
            self.log.info(
                "{peer} disconnected: {reason}",
                peer=self.peer,
                reason=reason.getErrorMessage(),
            )
        if self._session is not None:
            self.factory.connections.discard(self)
            self.factory.gatekeeper.release(self._host)
            self._session.disconnected()
            self._session = None


class ChatFactory(ServerFactory):
    """
    Makes a L{ChatProtocol} for each client, all sharing one hub.

    @ivar hub: the chat every connection of this server joins.
    @ivar maxLineLength: the longest line accepted, in bytes.
    @ivar probes: answers reachability probes (C{--probe-helper}), or
        C{None} when this server does not offer them.
    @ivar limits: who may connect and how much (L{globalchat.policy}).
    @ivar connections: the admitted connections, checked for time-outs by
        one timer for all of them rather than one each.
    """

    protocol = ChatProtocol
    noisy = False
    log = Logger()

    def __init__(
        self,
        hub: Hub,
        maxLineLength: int = DEFAULT_MAX_LINE_LENGTH,
        probes: ProbeHelper | None = None,
        limits: Limits | None = None,
        clock: IReactorTime | None = None,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.hub = hub
        self.maxLineLength = maxLineLength
        self.probes = probes
        self.limits = limits if limits is not None else Limits()
        self.clock = clock
        self.gatekeeper = Gatekeeper(clock, self.limits)
        self.connections: set[ChatProtocol] = set()
        #: Whether client certificates name the users (--client-ca).
        self.certifiedNames = False
        self._sweep = LoopingCall(self._checkTimeouts)
        self._sweep.clock = clock

    def startFactory(self) -> None:
        self._sweep.start(1.0, now=False)

    def stopFactory(self) -> None:
        if self._sweep.running:
            self._sweep.stop()

    def strike(self, protocol: ChatProtocol) -> None:
        """
        Count abuse (a flood, a wrong password) against C{protocol}'s
        address; the strike that bans it also ends this connection.
        """
        if self.gatekeeper.strike(protocol._host):
            self.log.warn("banned {host} for {time:g} s after repeated abuse",
                          host=protocol._host, time=self.limits.banTime, security="banned")
            protocol.send(wire.error("banned for repeated abuse"))
            protocol.close()

    def _checkTimeouts(self) -> None:
        now = self.clock.seconds()
        for protocol in list(self.connections):
            protocol.checkTimeouts(now)

    def buildProtocol(self, addr: IAddress) -> ChatProtocol | None:
        """
        Refuse addresses that may not connect before reading a byte from
        them: Twisted closes a connection whose factory builds nothing.
        """
        host = getattr(addr, "host", None)
        refusal = self.gatekeeper.screen(host) if host is not None else None
        if refusal is not None:
            self.log.warn("refused {peer}: {reason}", peer=describePeer(addr), reason=refusal,
                          security="refused")
            return None
        return super().buildProtocol(addr)
