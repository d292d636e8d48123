# -*- test-case-name: tests.test_chat_counters -*-
"""
C{/stats}: the server's figures for its operators, in a few lines of
chat, for when there is no Prometheus to look at (or to check it).

The figures are the ones the metrics exporter serves
(L{globalchat.metrics}), read from the same L{Counters}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from globalchat.chat import wire
from globalchat.chat.commands import usageError
from globalchat.chat.counters import largestOwed

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.chat.moderation import Moderation
    from globalchat.chat.session import Session

USAGE = {
    "stats": ("/stats", "connections, traffic, refusals and the store since the server "
                        "started (server operators)"),
}


def _counts(counts: Mapping[str, int]) -> str:
    """
    C{tcp 3, tls 1}: the non-zero counts, or C{none}.
    """
    return ", ".join(f"{what} {count:,}" for what, count in sorted(counts.items())
                     if count) or "none"


def statsLines(hub: Hub) -> list[str]:
    """
    The figures, as the lines C{/stats} shows.
    """
    counters = hub.counters
    refused = counters.refusals()
    events = counters.events()
    latency = counters.storeLatency
    mean = latency.sum / latency.count * 1000 if latency.count else 0.0
    return [
        f"connections: {sum(counters.open.values()):,} open ({_counts(counters.open)}); "
        f"{sum(counters.accepted.values()):,} accepted; {sum(refused.values()):,} refused "
        f"({_counts(refused)})",
        f"users: {len(hub.names):,} online; rooms: {len(hub.bus.rooms()):,}; logins: "
        f"{_counts(counters.loginsByKind())}",
        f"lines: {counters.linesIn:,} received, {sum(counters.dropped.values()):,} dropped "
        f"({_counts(counters.dropped)}); {counters.deliveries:,} deliveries",
        f"bytes: {counters.bytesIn:,} in, {counters.bytesOut:,} out; slow readers dropped: "
        f"{events['slow-reader']:,}; most owed to one reader: {largestOwed(hub.bus):,} bytes",
        f"store: {hub.store.rows:,} messages kept, {counters.storeWaiting:,} waiting; "
        f"{latency.count:,} writes, {mean:.1f} ms on average, {counters.storeErrors:,} failed",
        f"security events: {_counts(events)}",
    ]


class StatsCommands:
    """
    The figures command, bound to one hub.
    """

    USAGE = USAGE

    def __init__(self, hub: Hub, moderation: Moderation) -> None:
        self._hub = hub
        self._mod = moderation

    def cmd_stats(self, session: Session, arguments: str) -> None:
        if arguments:
            raise usageError(USAGE, "stats")
        # Who is refused and why is the server's business, not its users'.
        self._mod.checkOperator(session)
        for text in statsLines(self._hub):
            session.reply(wire.info(text))
        session.reply(wire.ok("stats"))
