# -*- test-case-name: tests.test_chat_counters -*-
"""
The chat's running totals, for C{/stats} and the metrics exporter
(L{globalchat.metrics}).

They are plain integers bumped where things happen: a line on the hot
path (a delivery, its bytes) costs an attribute increment, and turning
them into figures is left to whoever asks, when they ask.

Security events are not counted by hand: L{Counters} is a log observer
that counts every event logged with a C{security} key, so that what the
log (and C{--log-json}) says and what the figures say can never differ.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from typing import TYPE_CHECKING, Iterable

from twisted.logger import ILogObserver, LogEvent
from zope.interface import implementer

if TYPE_CHECKING:
    from globalchat.chat.session import Session

#: Why a line is dropped: over the rate, longer than C{--max-line-length},
#: not UTF-8, or holding control characters (escape codes).
DROP_REASONS = ("rate", "too-long", "invalid-utf8", "control")

#: How a login proved who it is (a failed one is a security event).
LOGIN_KINDS = ("guest", "password", "certificate")

#: The kinds of port a connection comes through (L{IConnection.kind}).
PORT_KINDS = ("tcp", "tls", "web", "irc")

#: Every kind of security event the server logs (its C{security} key).
SECURITY_EVENTS = ("refused", "over-limit", "banned", "tls-failure", "auth-failed", "flood",
                   "timeout", "slow-reader", "moderation", "registered", "password-changed",
                   "unregistered", "bad-origin", "binary-frame", "line-too-long")

#: The admission rules that refuse connections (the C{rule} key of the
#: C{refused} and C{over-limit} events).
REFUSAL_RULES = ("deny", "allow", "ban", "connect-rate", "max-connections", "per-ip")

#: The security events that refuse a connection, and the reason each is
#: counted under: an admission refusal, under its rule.
REFUSALS = {"refused": None, "over-limit": None, "tls-failure": "tls"}

#: Upper bounds (seconds) of the store write latency buckets: from a
#: memory store's instant to an SQLite commit on a disk that is struggling.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                   2.5, 5.0, 10.0)


class Histogram:
    """
    How many observations fell at or below each bound, and their sum: the
    shape of a Prometheus histogram, without its locking (everything here
    runs on the reactor thread).
    """

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Iterable[float]) -> None:
        self.bounds = tuple(bounds)
        #: One count per bound, and a last one for what exceeds them all.
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """
        Count one observation of C{value}.
        """
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """
        How many observations there were.
        """
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """
        (upper bound, observations at or below it) for every bound, ending
        with infinity and the total, as Prometheus buckets are given.
        """
        total, buckets = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts):
            total += count
            buckets.append((bound, total))
        return buckets


@implementer(ILogObserver)
class Counters:
    """
    What one server has done since it started.  Every figure that has
    kinds starts with each known kind at zero, so that a rate over it is
    right from the first event.

    @ivar linesIn: lines clients sent, dropped ones included.
    @ivar bytesIn: bytes clients sent.
    @ivar bytesOut: bytes written to clients.
    @ivar deliveries: messages handed to a recipient's connection (a
        message to a room of ten is ten).
    @ivar dropped: lines dropped, by reason (L{DROP_REASONS}).
    @ivar accepted: connections given a session, by port kind.
    @ivar open: connections open now, by port kind.
    @ivar logins: logins, by kind (L{LOGIN_KINDS}).
    @ivar storeWaiting: messages handed to the store and not yet stored.
    @ivar storeErrors: store writes that failed.
    @ivar storeLatency: seconds each store write took.
    @ivar security: security events, by kind and rule.
    """

    def __init__(self) -> None:
        self.linesIn = 0
        self.bytesIn = 0
        self.bytesOut = 0
        self.deliveries = 0
        self.dropped = dict.fromkeys(DROP_REASONS, 0)
        self.accepted: Counter[str] = Counter(dict.fromkeys(PORT_KINDS, 0))
        self.open: Counter[str] = Counter(dict.fromkeys(PORT_KINDS, 0))
        self.logins = dict.fromkeys(LOGIN_KINDS, 0)
        self.storeWaiting = 0
        self.storeErrors = 0
        self.storeLatency = Histogram(LATENCY_BUCKETS)
        self.security: Counter[tuple[str, str | None]] = Counter()

    def __call__(self, event: LogEvent) -> None:
        """
        Count a logged security event: the one place they are counted.
        """
        kind = event.get("security")
        if kind is not None:
            self.security[kind, event.get("rule")] += 1

    def connected(self, kind: str) -> None:
        """
        A connection through a port of C{kind} got a session.
        """
        self.accepted[kind] += 1
        self.open[kind] += 1

    def disconnected(self, kind: str) -> None:
        """
        A connection that had a session ended.
        """
        self.open[kind] -= 1

    def stored(self, seconds: float, messages: int, failed: bool) -> None:
        """
        A store write of C{messages} messages ended after C{seconds}.
        """
        self.storeWaiting -= messages
        self.storeLatency.observe(max(seconds, 0.0))
        if failed:
            self.storeErrors += 1

    def events(self) -> Counter[str]:
        """
        Security events by kind, whatever their rule.
        """
        found: Counter[str] = Counter(dict.fromkeys(SECURITY_EVENTS, 0))
        for (kind, _), count in self.security.items():
            found[kind] += count
        return found

    def refusals(self) -> Counter[str]:
        """
        Refused connections by reason: the admission rule that refused
        them (deny, allow, ban, max-connections, per-ip), or tls.
        """
        found: Counter[str] = Counter(dict.fromkeys((*REFUSAL_RULES, "tls"), 0))
        for (kind, rule), count in self.security.items():
            if kind in REFUSALS:
                found[REFUSALS[kind] or rule] += count
        return found

    def loginsByKind(self) -> dict[str, int]:
        """
        Logins by kind, failed ones (wrong passwords) included.
        """
        return {**self.logins, "failed": self.events()["auth-failed"]}


def largestOwed(sessions: Iterable[Session]) -> int:
    """
    The most bytes any one of C{sessions} is owed while it does not read:
    how close the slowest reader is to being dropped.
    """
    return max((session.owed for session in sessions), default=0)
