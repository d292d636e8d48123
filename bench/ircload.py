"""
IRC clients beside line clients: the burst fan-out with both kinds in
C{#lobby} of one globalchat (C{--irc} beside C{--port}), in the same run,
so that each kind's deliveries a second are comparable.

IRC clients speak L{bench.wire.IRC} (C{NICK}/C{USER}/C{JOIN}, lines as
C{PRIVMSG #lobby}, no copy of their own lines); every line said on
either side reaches every client of both.
"""

from __future__ import annotations

import dataclasses

from bench.loadgen import Outcome, Tally, drive
from bench.scenarios import BIG_SEND_BUFFER, Row, Scenario, Sizes, _names, _percentile, _plans
from bench.servers import Peer, cpuSeconds, freePort, running
from bench.wire import DIALECTS

#: Each kind's label, name prefix and dialect (None: the peer's own).
KINDS = (("line", "t", None), ("IRC", "i", "irc"))


def _withIrc(peer: Peer, ircPort: int) -> Peer:
    return dataclasses.replace(peer, command=lambda port, scratch, buffer: [
        *peer.command(port, scratch, buffer), "--irc", f"tcp:{ircPort}:interface=127.0.0.1"])


def _fanOut(peer: Peer, size: dict) -> tuple[Outcome, float, dict[str, int]]:
    """
    C{size["clients"]} of each kind in one room, half of the senders of
    each kind, every line written at once.

    @return: what happened, the server's CPU seconds, and how many
        deliveries each kind should have had.
    """
    clients, senders, lines = size["clients"], size["senders"] // 2, size["lines"]
    ircPort = freePort()
    talkers = _names("s", 2 * senders)
    expected = {}
    with running(_withIrc(peer, ircPort), BIG_SEND_BUFFER) as server:
        plans = []
        for i, (kind, prefix, dialect) in enumerate(KINDS):
            speaker = dataclasses.replace(peer, dialect=dialect or peer.dialect)
            names = talkers[i * senders:(i + 1) * senders] + _names(prefix, clients - senders)
            plans += _plans(ircPort if dialect else server.port, speaker, names, 1,
                            senders=talkers, lines=lines, probe=True, label=kind,
                            runLimit=90.0, loginLimit=30.0, stall=size["stall"])
            own = 0 if DIALECTS[speaker.dialect].echoes else senders * lines
            expected[kind] = clients * 2 * senders * lines - own
        cpu = []
        outcome = drive(plans, whenReady=lambda joined: cpu.append(cpuSeconds(server.process.pid)),
                        beforeRelease=lambda: cpu.append(cpuSeconds(server.process.pid)))
    return outcome, cpu[1] - cpu[0] if len(cpu) == 2 else float("nan"), expected


def ircBeside(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 9: IRC clients beside line clients in one room, one burst;
    each kind's deliveries a second and latency.
    """
    if peer.dialect != "globalchat":
        return []
    outcome, cpu, expected = _fanOut(peer, size)
    rows = []
    for kind, _, _ in KINDS:
        tally = sum((t for t in outcome.parts if t.label == kind), Tally())
        seconds = max(tally.lastAt - outcome.goAt, 1e-9)
        rows.append({"kind": kind, "clients": size["clients"], "joined": tally.joined,
                     "deliveries": tally.received,
                     "deliveries/s": tally.received / seconds if tally.received else 0.0,
                     "p99 ms": _percentile(tally.latencies, 0.99) * 1000,
                     "lost": max(0, expected[kind] - tally.received - tally.corrupted),
                     "corrupted": tally.corrupted, "dropped": tally.dropped,
                     "server CPU s": cpu})
    return rows


SCENARIO = Scenario("irc", "9. IRC beside line clients (one room)", ircBeside, Sizes(
    full=dict(clients=100, senders=10, lines=1000, stall=5.0),
    smoke=dict(clients=5, senders=2, lines=20, stall=1.0)))
