# -*- test-case-name: tests.test_expose_reachability -*-
"""
After each mapping: find out what can honestly be said, and say it once.

The port mapper hands every mapping (new or renewed) to L{Reachability}.
It gathers the evidence that does not change while the server runs (the
STUN server's view and the path out, each asked once), asks the
C{--verify-via} helpers to connect back, and logs the verdict of
L{globalchat.expose.verdict} -- only when it differs from the last one
logged for that mapping, so that renewals and retries stay quiet.  A
verification that did not end in "reachable" is tried again, less and
less often, until the next renewal asks anyway.
"""

from __future__ import annotations

from typing import Callable, Hashable, Sequence

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.expose import probe, verdict
from globalchat.expose.path import Path
from globalchat.failures import explain

#: The first retry of a verification that did not succeed: after a
#: helper's one-probe-a-minute limit has passed.  Each retry waits twice
#: as long as the one before, up to L{MAX_RETRY_DELAY}.
FIRST_RETRY_DELAY = 90.0
MAX_RETRY_DELAY = 1800.0

#: Asks the helper at (host, port) to probe our external port, with TLS
#: or not; fires with its answer line.
Ask = Callable[[str, int, int, bool], Deferred[str]]


class _Watch:
    """
    What is known and pending for one mapping.
    """

    def __init__(self, mappedAt: str | None, port: int, fingerprint: str | None,
                 ipv6: bool, web: bool) -> None:
        self.mappedAt = mappedAt
        self.port = port
        self.fingerprint = fingerprint
        self.ipv6 = ipv6
        self.web = web
        self.logged: str | None = None
        self.attempts = 0
        self.retry: IDelayedCall | None = None
        # Bumped by each renewal and by forgetting: a judgement begun
        # before it is stale and says nothing.
        self.generation = 0


class Reachability:
    """
    Judges and reports every mapping of one port mapper.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        stun: Callable[[], Deferred[tuple[str, int] | None]] | None = None,
        path: Callable[[], Deferred[Path]] | None = None,
        helpers: Sequence[tuple[str, int]] = (),
        ask: Ask | None = None,
        ipv6: Callable[[], Sequence[str]] = lambda: (),
    ) -> None:
        """
        @param stun: asks STUN servers for our public address, if any were
            configured.
        @param path: looks at the routers on the way out (L{tracePath}).
        @param helpers: the C{--verify-via} servers, tried in order.
        @param ask: asks one helper (default: L{probe.askProbe}).
        @param ipv6: this machine's global IPv6 addresses, for the advice.
        """
        self._reactor = reactor
        self._stun = stun
        self._path = path
        self._helpers = list(helpers)
        self._ask = ask or (lambda host, port, probed, tls: probe.askProbe(
            reactor, host, port, probed, tls))
        self._ipv6 = ipv6
        self._evidence: tuple[str | None, Path | None] | None = None
        self._watches: dict[Hashable, _Watch] = {}
        #: The public address friends connect to, as last judged.
        self.publicAddress: str | None = None

    async def evidence(self) -> tuple[str | None, Path | None]:
        """
        What STUN sees and the path out, asked the first time only; the
        path check's result is logged when it could not run.
        """
        if self._evidence is None:
            seen = await self._stun() if self._stun is not None else None
            path = await self._path() if self._path is not None else None
            if path is not None and path.skipped:
                self.log.info("path check skipped: {reason}", reason=path.skipped)
            self._evidence = (seen[0] if seen else None, path)
        return self._evidence

    async def otherNat(self) -> tuple[verdict.Signal, ...]:
        """
        The signs of another NAT that do not need a mapping: STUN and the
        path.  A gateway that refused every mapping still gets them said.
        """
        seen, path = await self.evidence()
        return verdict.signals(None, seen, path)

    async def mapped(self, key: Hashable, mappedAt: str | None, port: int,
                     fingerprint: str | None, ipv6: bool = False, web: bool = False) -> None:
        """
        Judge a mapping just made or renewed, and ask the helpers again.

        @param key: the same for every renewal of one mapping.
        @param mappedAt: the external address the gateway reported.
        @param port: the external port.
        @param ipv6: an IPv6 pinhole: no NAT to look for, and the helpers
            would probe our IPv4 address.
        @param web: a C{--web} port, which friends open in a browser.
        """
        watch = self._watches.get(key)
        if watch is None:
            watch = self._watches[key] = _Watch(mappedAt, port, fingerprint, ipv6, web)
        self._cancel(watch)
        watch.mappedAt, watch.port, watch.attempts = mappedAt, port, 0
        await self._judge(watch)

    async def _judge(self, watch: _Watch) -> None:
        generation = watch.generation
        if watch.ipv6:
            seen, path = None, None
        else:
            seen, path = await self.evidence()
        helpers = self._helpers if not watch.ipv6 else []
        answer, unasked = await self._verify(helpers, watch)
        if generation != watch.generation:
            return
        found = verdict.judge(watch.mappedAt, seen, path, answer)
        if not watch.ipv6:
            self.publicAddress = (found.address if found.status in (verdict.REACHABLE,
                                                                   verdict.MAPPED) else None)
        line = verdict.logLine(found, watch.mappedAt, watch.port, watch.fingerprint, self._ipv6(),
                               web=watch.web)
        retry = bool(helpers) and found.status != verdict.REACHABLE
        if line != watch.logged:
            watch.logged = line
            note = ""
            if found.status == verdict.MAPPED and not helpers:
                note = " (add --verify-via HOST:PORT to have a helper on the internet check)"
            if unasked:
                note += f"; could not ask {'; '.join(unasked)}"
            if retry:
                note += "; asking again later, less and less often"
            level = self.log.info if found.status in (verdict.REACHABLE, verdict.MAPPED) \
                else self.log.warn
            level("{line}", line=line + note, status=found.status, port=watch.port,
                  signals=[str(s) for s in found.signals])
        if retry:
            delay = min(FIRST_RETRY_DELAY * 2 ** watch.attempts, MAX_RETRY_DELAY)
            watch.attempts += 1
            watch.retry = self._reactor.callLater(delay, self._again, watch)

    def _again(self, watch: _Watch) -> Deferred[None]:
        watch.retry = None
        return ensureDeferred(self._judge(watch))

    async def _verify(self, helpers: Sequence[tuple[str, int]],
                      watch: _Watch) -> tuple[verdict.HelperAnswer | None, list[str]]:
        # The first helper with a definite answer decides; the others are
        # named when none had one.
        unasked = []
        for host, port in helpers:
            helper = f"{host}:{port}"
            try:
                line = await self._ask(host, port, watch.port, watch.fingerprint is not None)
            except Exception:
                unasked.append(explain(Failure(), helper))
                continue
            outcome, rest = probe.readAnswer(line, watch.fingerprint)
            if outcome == probe.CONNECTED:
                return verdict.HelperAnswer(helper, True, rest), unasked
            if outcome == probe.NOT_CONNECTED:
                return verdict.HelperAnswer(helper, False, rest), unasked
            if outcome == probe.IMPOSTOR:
                return verdict.HelperAnswer(
                    helper, False, f"it reached a server whose certificate is {rest}, not "
                                   f"this one's {watch.fingerprint}"), unasked
            unasked.append(f"{helper} ({rest})")
        return None, unasked

    def forget(self, key: Hashable) -> None:
        """
        Stop watching a mapping that is gone.
        """
        watch = self._watches.pop(key, None)
        if watch is not None:
            self._cancel(watch)

    def _cancel(self, watch: _Watch) -> None:
        watch.generation += 1
        if watch.retry is not None and watch.retry.active():
            watch.retry.cancel()
        watch.retry = None
