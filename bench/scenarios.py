"""
The seven scenarios, each run against one server and turned into table
rows.  Each starts its own fresh server, so that no run inherits another's
history, connections or memory.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.accounts import LoginStorm, register
from bench.loadgen import Outcome, Plan, Tally, drive
from bench.servers import SERVER_CPU, Peer, Running, accepts, cpuSeconds, rss, running
from bench.wire import DIALECTS

Row = dict[str, object]

BIG_SEND_BUFFER = 2**31
"""globalchat's --max-send-buffer where clients are expected to keep up: a
client that falls behind because the generator is busy is not slow."""

SLOW_SEND_BUFFER = 256 * 1024
"""globalchat's --max-send-buffer in the slow-reader scenario."""


@dataclass(frozen=True)
class Sizes:
    """How big a scenario is, at full size and for --smoke."""

    full: dict[str, object]
    smoke: dict[str, object]


def _names(prefix: str, count: int, first: int = 0) -> list[str]:
    return [f"{prefix}{i}" for i in range(first, first + count)]


def _plans(port: int, peer: Peer, names: list[str], processes: int, **options: object) -> list[Plan]:
    """
    C{names} dealt round-robin to C{processes} plans, each plan told which of
    its clients send (C{options["lines"]} each, from C{options["senders"]}).
    """
    senders = options.pop("senders", [])
    lines = options.pop("lines", 0)
    expected = {s: lines for s in senders}
    plans = []
    for i in range(processes):
        mine = tuple(names[i::processes])
        if mine:
            plans.append(Plan(port, peer.dialect, mine,
                              sends={n: lines for n in mine if n in expected},
                              expected=expected, **options))  # type: ignore[arg-type]
    return plans


def _processes(clients: int) -> int:
    return 2 if clients <= 500 else 4


def _expectedDeliveries(peer: Peer, receivers: int, senders: int, lines: int) -> int:
    """
    How many chat lines should arrive in all, C{receivers} counting the
    senders: on servers that do not echo, a sender misses its own lines.
    """
    echoes = DIALECTS[peer.dialect].echoes
    return (receivers * senders - (0 if echoes else senders)) * lines


def _lost(expected: int, tally: Tally) -> int:
    """
    Lines that never showed up in any form: neither intact nor corrupted
    (a merge can make one corrupted line of several, so this is a floor).
    """
    return max(0, expected - tally.received - tally.corrupted)


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Usage:
    """
    What a chat cost the server: CPU seconds from go to the last line, and
    resident memory (bytes) at the end, every client still connected.
    """

    cpu: float = 0.0
    rss: int = 0


def _chat(peer: Peer, clients: int, senders: int, lines: int, interval: float,
          runLimit: float, stall: float, slow: int = 0,
          sendBuffer: int = BIG_SEND_BUFFER) -> tuple[Outcome, int, Usage]:
    """
    L{_chatOn} a fresh server.
    """
    with running(peer, sendBuffer) as server:
        return _chatOn(server, peer, clients, senders, lines, interval, runLimit, stall, slow)


def _chatOn(server: Running, peer: Peer, clients: int, senders: int, lines: int,
            interval: float, runLimit: float, stall: float, slow: int = 0, first: int = 0,
            whenReady: Callable[[], None] | None = None,
            beforeRelease: Callable[[], None] | None = None) -> tuple[Outcome, int, Usage]:
    """
    C{clients} in one room (one of them a latency probe in a process of its
    own, C{slow} of them readers that stop reading), C{senders} of them each
    sending C{lines} lines C{interval} seconds apart (0: all at once).

    @param first: where the clients' numbered names start, so that a second
        chat on the same server does not take the first one's names while
        the server may still be letting go of them.
    @param whenReady: called once every client is in, before they chat.
    @param beforeRelease: called once they have chatted, before they leave.
    @return: what happened, how many lines should have arrived, and what it
        cost the server.
    """
    talkers = _names("s", senders, first)
    quiet = _names("r", clients - senders - slow - 1, first)
    slowNames = _names("slow", slow, first)
    # ncat --chat never answers some of many connections opened at once
    options = dict(senders=talkers, lines=lines, interval=interval,
                   runLimit=runLimit, loginLimit=30.0, stall=stall,
                   concurrency=10)
    usage = Usage()
    pid = server.process.pid
    plans = _plans(server.port, peer, talkers + quiet + slowNames, _generatorCpus(),
                   slow=frozenset(slowNames), native=True, serverPid=pid, **options)
    plans += _plans(server.port, peer, _names("p", 1, first), 1, probe=True, **options)

    def started(joined: int) -> None:
        if whenReady is not None:
            whenReady()
        usage.cpu = -cpuSeconds(pid)

    def finished() -> None:
        usage.cpu += cpuSeconds(pid)
        usage.rss = rss(pid)
        if beforeRelease is not None:
            beforeRelease()

    outcome = drive(plans, whenReady=started, beforeRelease=finished)
    return outcome, _expectedDeliveries(peer, clients - slow, senders, lines), usage


def _generatorCpus() -> int:
    """How many CPUs the load generator has: all but the server's."""
    return max(1, len(os.sched_getaffinity(0) - {SERVER_CPU}))


def _fanOut(peer: Peer, clients: int, rooms: int, senders: int, lines: int,
            stall: float) -> Row:
    """
    C{clients} over C{rooms} rooms, C{senders} in each room writing
    C{lines} lines at once, every line checked by the C generator (one
    process per CPU it has); the server's and the generator's CPU over
    the window from go to the last delivery.
    """
    talkers = _names("s", senders * rooms)
    everyone = talkers + _names("r", clients - len(talkers))
    roomOf = {name: "lobby" if rooms == 1 else f"room{i % rooms}"
              for i, name in enumerate(everyone)}
    workload = "".join([f"lines {lines}\n", *(f"sender {s} {roomOf[s]}\n" for s in talkers)])
    with running(peer, BIG_SEND_BUFFER, workload=workload) as server:
        processes = _generatorCpus()
        plans = [Plan(server.port, peer.dialect, tuple(everyone[i::processes]),
                      sends={n: lines for n in everyone[i::processes] if n in talkers},
                      expected={s: lines for s in talkers}, rooms=roomOf, native=True,
                      serverPid=server.process.pid, concurrency=10, stall=stall,
                      loginLimit=60.0, runLimit=120.0)
                 for i in range(processes)]
        outcome = drive(plans)
    expected = sum(plans[0].expects(name) for name in everyone)
    tally = outcome.tally
    seconds = tally.lastAt - tally.goAt if tally.received else math.nan
    return {"clients": clients, "rooms": rooms, "deliveries": expected,
            "deliveries/s": tally.received / seconds,
            "server CPU %": 100 * tally.serverCpu / seconds,
            "deliveries/CPU-s": tally.received / tally.serverCpu if tally.serverCpu else math.nan,
            "generator CPU %": 100 * tally.generatorCpu / seconds,
            "generator ns/line": 1e9 * tally.generatorCpu / max(tally.received, 1),
            "of it kernel": 1e9 * tally.generatorKernel / max(tally.received, 1),
            "first line at %": 100 * (tally.firstAt - tally.goAt) / seconds,
            "lost": _lost(expected, tally), "corrupted": tally.corrupted,
            "corrupted %": 100 * tally.corrupted / expected, "dropped": tally.dropped,
            "joined": outcome.joined}


def burst(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 1: senders write everything at once to a room; how fast does
    it all reach everyone, and does all of it arrive intact?
    """
    return [_fanOut(peer, size["clients"], 1, size["senders"], size["lines"], size["stall"])]


def scaling(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 2: the burst with many more clients, in one room and over
    many rooms, at about the same number of deliveries.
    """
    return [_fanOut(peer, clients, rooms, senders, lines, size["stall"])
            for clients, rooms, senders, lines in size["runs"]
            if rooms == 1 or peer.dialect != "ncat"]


def _latencyRow(outcome: Outcome, expected: int) -> Row:
    latencies = outcome.tally.latencies
    return {"p50 ms": _percentile(latencies, 0.5) * 1000,
            "p99 ms": _percentile(latencies, 0.99) * 1000,
            "max ms": max(latencies, default=float("nan")) * 1000,
            "samples": len(latencies), "lost": _lost(expected, outcome.tally),
            "corrupted": outcome.tally.corrupted}


def paced(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 3: ordinary chat (each sender one line a second); the latency
    one probe client sees.
    """
    lines = int(size["seconds"])
    outcome, expected, _ = _chat(peer, size["clients"], size["senders"], lines, 1.0,
                              runLimit=lines + 30, stall=size["stall"])
    return [{"clients": size["clients"], "senders": size["senders"],
             **_latencyRow(outcome, expected)}]


def _crowd(peer: Peer, count: int, concurrency: int, loginLimit: float,
           measure: Callable[[Running, int, int], Row]) -> Row:
    """
    C{count} clients that log in (C{concurrency} at a time per process, 0
    for all at once) and say nothing; once they are in, C{measure} reports
    on the server, given how many got in and its memory before they came.
    """
    with running(peer, BIG_SEND_BUFFER) as server:
        before = rss(server.process.pid)
        started = time.monotonic()
        row: Row = {"connections": count}

        def ready(joined: int) -> None:
            row["login s"] = time.monotonic() - started
            row.update(measure(server, joined, before))

        plans = _plans(server.port, peer, _names("i", count), _processes(count),
                       concurrency=concurrency, loginLimit=loginLimit, runLimit=0.0)
        drive(plans, whenReady=ready)
        return row


def idle(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 4: many logged-in, silent connections; what each costs the
    server in resident memory.
    """
    def measure(server: Running, joined: int, before: int) -> Row:
        time.sleep(2)  # let the joins' output drain before reading memory
        after = rss(server.process.pid)
        perConnection = (after - before) / 1024 / joined if joined and server.alive else float("nan")
        return {"joined": joined, "baseline MB": before / 2**20, "RSS MB": after / 2**20,
                "KB/conn": perConnection, "alive": server.alive}

    return [_crowd(peer, size["connections"], 20, size["loginLimit"], measure)]


def storm(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 5: connections opened all at once; how many get in, and is
    the server still there afterwards?
    """
    def measure(server: Running, joined: int, before: int) -> Row:
        return {"greeted": joined, "survived": server.alive and accepts(server.port)}

    return [_crowd(peer, size["connections"], 0, size["loginLimit"], measure)]


def slowReader(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 6: one client stops reading while others chat briskly; do the
    others suffer, does the server's memory grow, and what happens to the
    slow client?
    """
    lines = int(size["seconds"] / size["interval"])
    rows = []
    for slow in (0, 1):
        outcome, expected, usage = _chat(
            peer, size["clients"] + 1 + slow, size["clients"], lines, size["interval"],
            runLimit=size["seconds"] + 30, stall=size["stall"], slow=slow,
            sendBuffer=SLOW_SEND_BUFFER)
        row = {"slow reader": "yes" if slow else "no", **_latencyRow(outcome, expected),
               "RSS MB": usage.rss / 2**20}
        if slow:
            row["slow got KB"] = outcome.tally.slowBytes / 1024
            row["slow dropped"] = "yes" if outcome.tally.slowClosed else "no"
        rows.append(row)
    return rows


PASSWORD = "bench-correct-horse"
"""Every bench account's password: the right one, always, so that the
login throttle (which slows down failed logins) never comes into it."""


def logins(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 7: C{size["accounts"]} accounts are registered; then clients
    chat in one room at a paced rate, first quietly, then while a storm of
    logins to those accounts (each a password hash in the server's thread
    pool) runs; how many logins a second get through, and how much the
    chat's latency suffers.  Only for servers with accounts.
    """
    if not peer.accounts:
        return []
    lines = int(size["seconds"] / size["interval"])
    accounts = _names("acct", size["accounts"])
    chat = dict(clients=size["clients"], senders=size["senders"], lines=lines,
                interval=size["interval"], runLimit=size["seconds"] + 30, stall=size["stall"])
    with running(peer, BIG_SEND_BUFFER) as server:
        register(server.port, accounts, PASSWORD)
        quiet, expected, _ = _chatOn(server, peer, **chat)
        storm = LoginStorm(server.port, accounts, PASSWORD, size["concurrency"])
        window: dict[str, float] = {}

        def stormOn() -> None:
            # Warm up first, so that the chat meets a storm in full swing:
            # every hashing thread busy, hashes queued behind them.
            storm.start()
            time.sleep(size["warmUp"])

        def stormOff() -> None:
            window["end"] = time.time()

        try:
            stormy, _, _ = _chatOn(server, peer, **chat, first=size["clients"],
                                   whenReady=stormOn, beforeRelease=stormOff)
        finally:
            result = storm.stop()
    if result.failures:
        print(f"login storm: {len(result.failures)} logins failed, the first: "
              f"{result.failures[0]}", file=sys.stderr)
    during = [t for t in result.times if stormy.goAt <= t <= window["end"]]
    seconds = window["end"] - stormy.goAt
    common = {"clients": size["clients"], "senders": size["senders"],
              "accounts": len(accounts)}
    return [
        {"phase": "quiet", **common, "login conns": 0, "logins": 0, "logins/s": 0.0,
         "login errors": 0, **_latencyRow(quiet, expected)},
        {"phase": "login storm", **common, "login conns": size["concurrency"],
         "logins": len(during), "logins/s": len(during) / seconds,
         "login errors": len(result.failures), **_latencyRow(stormy, expected)},
    ]


@dataclass(frozen=True)
class Scenario:
    """
    One scenario: its name for --scenario, a title, and its sizes; and
    whether it is run several times (C{--repeat}), the servers taking
    turns, to give medians and spreads.
    """

    name: str
    title: str
    run: Callable[[Peer, dict], list[Row]]
    sizes: Sizes
    repeat: bool = False


SCENARIOS = [
    Scenario("burst", "1. burst fan-out, sustained", burst, Sizes(
        full=dict(clients=100, senders=10, lines=10_000, stall=5.0),
        smoke=dict(clients=10, senders=2, lines=500, stall=1.0)), repeat=True),
    Scenario("scaling", "2. many clients, one room and 50 rooms", scaling, Sizes(
        # (clients, rooms, senders per room, lines per sender): 10 million deliveries
        full=dict(runs=[(1000, 1, 10, 1000), (5000, 50, 5, 400)], stall=5.0),
        smoke=dict(runs=[(20, 1, 2, 100), (40, 4, 2, 50)], stall=1.0)), repeat=True),
    Scenario("paced", "3. paced chat latency (1 line/s per sender)", paced, Sizes(
        full=dict(clients=500, senders=50, seconds=10, stall=5.0),
        smoke=dict(clients=20, senders=5, seconds=2, stall=1.0)), repeat=True),
    Scenario("idle", "4. idle connections", idle, Sizes(
        full=dict(connections=10_000, loginLimit=60.0),
        smoke=dict(connections=100, loginLimit=3.0))),
    Scenario("storm", "5. connect storm", storm, Sizes(
        full=dict(connections=2000, loginLimit=30.0),
        smoke=dict(connections=100, loginLimit=3.0))),
    Scenario("slow-reader", "6. slow reader", slowReader, Sizes(
        full=dict(clients=50, interval=0.01, seconds=15, stall=3.0),
        smoke=dict(clients=10, interval=0.05, seconds=1, stall=1.0))),
    Scenario("logins", "8. logins while chatting (scrypt in the thread pool)", logins, Sizes(
        full=dict(accounts=200, concurrency=50, warmUp=2.0, clients=100, senders=50,
                  interval=1.0, seconds=20, stall=5.0),
        smoke=dict(accounts=6, concurrency=3, warmUp=0.2, clients=10, senders=5,
                   interval=0.5, seconds=2, stall=1.0))),
]
