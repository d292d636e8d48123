# -*- test-case-name: tests.test_expose_probe -*-
"""
Reachability seen from outside: one server connects back to another.

No check run on the server's own machine can prove that the internet
reaches it.  A friend's globalchat server started with C{--probe-helper}
can: C{globalchat-doctor --via FRIEND:PORT} connects to it and sends
C{/probe PORT} (or C{/probe PORT tls}) as its first line; the helper
connects back to the address the request came from, never to any other,
logs in as C{globalchat-probe}, and answers with one line saying what it
saw:

    PROBE OK Hello Good morning !!!! ::: globalchat-probe
    PROBE OK SHA256:AB:...:CD Hello Good morning !!!! ::: globalchat-probe
    PROBE FAILED 198.51.100.7:12345 refused the connection: ...
    PROBE REFUSED one probe per address per minute

Each address gets at most one probe a minute, so a helper cannot be used
to hammer anyone.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from globalchat import tls
from globalchat.chat.text import isCount
from globalchat.failures import explain

PROBE_NAME = "globalchat-probe"

#: What a helper's answer means, as L{readAnswer} sorts it.
CONNECTED = "connected"
NOT_CONNECTED = "not connected"
IMPOSTOR = "impostor"
REFUSED = "refused"
NOT_A_HELPER = "not a helper"
PROBE_INTERVAL = 60.0
PROBE_TIMEOUT = 10.0


class _OneLine(LineReceiver):
    """
    Send one line, return the first line answered.
    """

    delimiter = b"\n"
    MAX_LENGTH = 4096

    def __init__(self, line: str) -> None:
        self._line = line
        self.answer: Deferred[str] = Deferred()
        self.closed: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.sendLine(self._line.encode("utf-8"))

    def lineReceived(self, line: bytes) -> None:
        if not self.answer.called:
            self.answer.callback(line.removesuffix(b"\r").decode("utf-8", "replace"))
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:
        if not self.answer.called:
            self.answer.errback(reason)
        self.closed.callback(None)


async def exchangeLine(
    reactor: IReactorTime, endpoint: IStreamClientEndpoint, line: str, timeout: float
) -> str:
    """
    Connect, send C{line}, and return the first line that comes back, all
    within C{timeout} seconds.
    """
    protocol = _OneLine(line)
    connecting = endpoint.connect(Factory.forProtocol(lambda: protocol))
    connecting.addTimeout(timeout, reactor)
    await connecting
    protocol.answer.addTimeout(timeout, reactor)
    try:
        return await protocol.answer
    finally:
        # Wait for the close (TLS says goodbye too), but not for long.
        protocol.transport.loseConnection()
        closing = reactor.callLater(timeout, protocol.transport.abortConnection)
        await protocol.closed
        if closing.active():
            closing.cancel()


def parseRequest(text: str) -> tuple[int, bool] | None:
    """
    Read C{/probe PORT [tls]}; C{None} when the line is not a valid request.
    """
    words = text.split()
    if len(words) not in (2, 3) or words[0] != "/probe" or not isCount(words[1]):
        return None
    port = int(words[1])
    if not 0 < port < 65536 or (len(words) == 3 and words[2] != "tls"):
        return None
    return port, len(words) == 3


class ProbeHelper:
    """
    The C{--probe-helper} side: connect back to whoever asks.
    """

    log = Logger()

    def __init__(self, reactor, interval: float = PROBE_INTERVAL,
                 timeout: float = PROBE_TIMEOUT) -> None:
        self._reactor = reactor
        self._interval = interval
        self._timeout = timeout
        self._last: dict[str, float] = {}

    async def answer(self, requester: str, request: str) -> str:
        """
        The one-line answer to C{request}, sent from address C{requester}.
        """
        parsed = parseRequest(request)
        if parsed is None:
            return "PROBE REFUSED usage: /probe PORT [tls]"
        port, useTLS = parsed
        now = self._reactor.seconds()
        if now - self._last.get(requester, -self._interval) < self._interval:
            self.log.info("probe from {requester} refused: too soon", requester=requester)
            return "PROBE REFUSED one probe per address per minute"
        self._last = {a: t for a, t in self._last.items() if now - t < self._interval}
        self._last[requester] = now
        self.log.info("probing {requester} port {port}", requester=requester, port=port)
        endpoint: IStreamClientEndpoint = HostnameEndpoint(
            self._reactor, requester, port, timeout=self._timeout
        )
        seen = tls.PinnedCertificate(None, requester) if useTLS else None
        if seen is not None:
            endpoint = wrapClientTLS(seen, endpoint)
        where = f"[{requester}]:{port}" if ":" in requester else f"{requester}:{port}"
        try:
            greeting = await exchangeLine(self._reactor, endpoint, PROBE_NAME, self._timeout)
        except Exception:
            return f"PROBE FAILED {explain(Failure(), where)}"
        if seen is not None:
            return f"PROBE OK {seen.seen} {greeting}"
        return f"PROBE OK {greeting}"


def readAnswer(answer: str, ownFingerprint: str | None = None) -> tuple[str, str]:
    """
    Sort a helper's answer line, for the doctor and for C{--verify-via}.

    @param ownFingerprint: the probed TLS port's certificate fingerprint:
        a helper that saw another certificate reached something else.

    @return: L{CONNECTED}, L{NOT_CONNECTED}, L{IMPOSTOR}, L{REFUSED} or
        L{NOT_A_HELPER}, and the rest of the line (for L{IMPOSTOR}: the
        fingerprint the helper saw).
    """
    for prefix, outcome in (("PROBE OK ", CONNECTED), ("PROBE FAILED ", NOT_CONNECTED),
                            ("PROBE REFUSED ", REFUSED)):
        if answer.startswith(prefix):
            rest = answer[len(prefix):]
            seen = rest.split(maxsplit=1)[0] if rest else ""
            if (outcome == CONNECTED and ownFingerprint and seen.startswith("SHA256:")
                    and seen != ownFingerprint):
                return IMPOSTOR, seen
            return outcome, rest
    return NOT_A_HELPER, answer


def askProbe(reactor, host: str, port: int, probedPort: int, useTLS: bool,
             timeout: float = 2 * PROBE_TIMEOUT) -> Deferred[str]:
    """
    Ask the helper at C{host:port} to probe our C{probedPort}; fires with
    its answer line.
    """
    request = f"/probe {probedPort}" + (" tls" if useTLS else "")
    endpoint = HostnameEndpoint(reactor, host, port, timeout=timeout)
    return ensureDeferred(exchangeLine(reactor, endpoint, request, timeout))
