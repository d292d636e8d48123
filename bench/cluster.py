"""
C{python -m bench.cluster}: what a cluster's Redis costs, and what a
second node buys, in the burst fan-out (100 clients in one room, 10 of
them sending at once).

Three set-ups take turns, each on fresh processes: one globalchat with
its SQLite history (the peer the others are compared with), one node
with C{--cluster}, and two nodes with the clients split between them
(node A pinned to CPU 0, node B to CPU 1; Redis and the load generator
unpinned).  Each prints deliveries per second, the nodes' CPU, Redis's
CPU and Redis's operations per line (C{INFO commandstats} before and
after, commands run inside scripts included).  A last, smaller run with
C{MONITOR} tells the requests a node sends Redis (round trips) from the
commands scripts run inside Redis, per line.
"""

from __future__ import annotations

import argparse
import math
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.loadgen import Plan, drive, raiseFileLimit
from bench.scenarios import BIG_SEND_BUFFER
from bench.servers import LIMITS_NOTE, Peer, _globalchat, cpuSeconds, freePort, running

SENDERS = 10
CLIENTS = 100


@contextmanager
def redisServer(*settings: str) -> Iterator[int]:
    """
    A redis-server of the run's own on 127.0.0.1, its files in a scratch
    folder; yields its port.
    """
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as scratch:
        port = freePort()
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", scratch,
             "--save", "", "--logfile", str(Path(scratch) / "redis.log"), *settings],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    command(port, "PING")
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            yield port
        finally:
            process.terminate()
            process.wait(10)


def command(port: int, *words: str) -> str:
    """
    One command to the Redis on C{port}; its reply, a status line or one
    bulk string (what C{INFO} and C{PING} answer).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"*%d\r\n" % len(words) + b"".join(
            b"$%d\r\n%s\r\n" % (len(w), w.encode()) for w in words))
        reader = s.makefile("rb")
        first = reader.readline()
        if first.startswith(b"$"):
            return reader.read(int(first[1:]) + 2)[:-2].decode()
        return first[1:].strip().decode()


def commandStats(port: int) -> tuple[Counter, float]:
    """
    How many times Redis has run each command, and its CPU seconds.
    """
    calls: Counter = Counter()
    for line in command(port, "INFO", "commandstats").splitlines():
        if line.startswith("cmdstat_"):
            name, _, fields = line[len("cmdstat_"):].partition(":")
            calls[name] = int(dict(f.split("=") for f in fields.split(","))["calls"])
    cpu = dict(line.split(":", 1) for line in command(port, "INFO", "cpu").splitlines()
               if ":" in line)
    return calls, float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


def nodePeer(url: str | None, cpu: int | None = None) -> Peer:
    """
    globalchat as the fan-out runs it; with C{url}, a node of that
    cluster; with C{cpu}, pinned to that CPU.
    """
    extra = ("--cluster", url) if url else ()
    base = _globalchat(*extra)
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    return Peer("globalchat" + (" --cluster" if url else ""), "globalchat",
                lambda port, scratch, buffer: [*pin, *base(port, scratch, buffer)],
                lambda: None, LIMITS_NOTE)


def burst(servers: list, lines: int, whenReady, beforeRelease, stall: float = 5.0,
          interval: float = 0.0):
    """
    The burst on the running C{servers}, the clients and senders dealt
    out to them in turn; what the clients saw.

    @param interval: seconds between a sender's lines, for chat at a
        human pace (0: all at once, checked by the C generator).
    """
    senders = [f"s{i}" for i in range(SENDERS)]
    everyone = senders + [f"r{i}" for i in range(CLIENTS - SENDERS)]
    plans = [Plan(server.port, "globalchat", tuple(everyone[i::len(servers)]),
                  sends={n: lines for n in everyone[i::len(servers)] if n in senders},
                  expected={s: lines for s in senders}, native=not interval,
                  interval=interval, serverPid=server.process.pid, concurrency=10,
                  stall=stall, loginLimit=60.0, runLimit=240.0)
             for i, server in enumerate(servers)]
    return drive(plans, whenReady=whenReady, beforeRelease=beforeRelease)


def fanOut(nodes: list[Peer], lines: int, redis: int | None) -> dict[str, float]:
    """
    The burst on fresh C{nodes}, with Redis's figures when C{redis} (its
    port) is given.
    """
    measured: dict[str, object] = {}
    with ExitStack() as stack:
        servers = [stack.enter_context(running(node, BIG_SEND_BUFFER)) for node in nodes]

        def ready(joined: int) -> None:
            measured["cpu"] = -sum(cpuSeconds(s.process.pid) for s in servers)
            if redis is not None:
                measured["before"] = commandStats(redis)

        def done() -> None:
            measured["cpu"] += sum(cpuSeconds(s.process.pid) for s in servers)
            if redis is not None:
                measured["after"] = commandStats(redis)

        outcome = burst(servers, lines, ready, done)
    tally = outcome.tally
    seconds = tally.lastAt - tally.goAt if tally.received else math.nan
    expected = CLIENTS * SENDERS * lines
    row = {"deliveries/s": tally.received / seconds, "node CPU s": measured["cpu"],
           "lost": max(0, expected - tally.received - tally.corrupted),
           "corrupted": tally.corrupted, "joined": outcome.joined}
    if redis is not None:
        (calls0, cpu0), (calls1, cpu1) = measured["before"], measured["after"]
        ops = calls1 - calls0
        ops.pop("info", None)
        said = SENDERS * lines
        row["Redis ops/line"] = sum(ops.values()) / said
        row["Redis CPU ms/line"] = 1000 * (cpu1 - cpu0) / said
        row["ops"] = {name: count / said for name, count in ops.most_common()}
    return row


def roundTrips(nodes: int, lines: int, fsync: list[str],
               interval: float) -> dict[str, dict[str, float]]:
    """
    A small burst (or with C{interval}, paced chat) on C{nodes} nodes with
    C{MONITOR} on: per line, the commands nodes sent Redis (each a request
    and its reply) and those scripts ran inside Redis.
    """
    with redisServer(*fsync) as redis:
        seen: dict[str, Counter] = {"requests": Counter(), "inside scripts": Counter()}
        stop = threading.Event()
        monitor = socket.create_connection(("127.0.0.1", redis))
        monitor.sendall(b"MONITOR\r\n")
        counting = threading.Event()

        def watch() -> None:
            reader = monitor.makefile("rb")
            for line in reader:
                if stop.is_set():
                    return
                # +1733.123 [0 127.0.0.1:5555] "EVALSHA" ... or [0 lua] "ZADD" ...
                if not counting.is_set() or b"[" not in line:
                    continue
                where, _, rest = line.partition(b"]")
                name = rest.split(b'"')[1].decode().lower() if b'"' in rest else "?"
                kind = "inside scripts" if where.endswith(b"lua") else "requests"
                seen[kind][name] += 1

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        url = f"redis://127.0.0.1:{redis}/0"
        with ExitStack() as stack:
            servers = [stack.enter_context(running(nodePeer(url, cpu), BIG_SEND_BUFFER))
                       for cpu in range(nodes)]
            burst(servers, lines, lambda joined: counting.set(), counting.clear, stall=3.0,
                  interval=interval)
        stop.set()
        monitor.close()
        watcher.join(5)
    said = SENDERS * lines
    return {kind: {name: n / said for name, n in counter.most_common()}
            for kind, counter in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each set-up, taking turns (default 3)")
    parser.add_argument("--lines", type=int, default=10000,
                        help="lines each of the 10 senders writes (default 10000)")
    parser.add_argument("--appendfsync", choices=["always", "everysec", "off"],
                        default="always",
                        help="Redis's persistence: appendonly with this fsync, or none "
                             "(default always, as docs/scaling.md recommends)")
    args = parser.parse_args()
    raiseFileLimit()
    fsync = (["--appendonly", "no"] if args.appendfsync == "off"
             else ["--appendonly", "yes", "--appendfsync", args.appendfsync])
    results: dict[str, list[dict]] = {"one process (SQLite)": [], "one node": [],
                                      "two nodes": []}
    for run in range(args.repeat):
        for name in results:
            if name.startswith("one process"):
                row = fanOut([nodePeer(None)], args.lines, None)
            else:
                with redisServer(*fsync) as redis:
                    url = f"redis://127.0.0.1:{redis}/0"
                    nodes = [nodePeer(url, 0)] if name == "one node" else [
                        nodePeer(url, 0), nodePeer(url, 1)]
                    row = fanOut(nodes, args.lines, redis)
            results[name].append(row)
            shown = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()
                     if k != "ops"}
            print(f"run {run + 1} {name}: {shown}", flush=True)
            if "ops" in row:
                print("    per line: " + ", ".join(f"{k} {v:.4f}" for k, v in row["ops"].items()),
                      flush=True)
    base = statistics.median(r["deliveries/s"] for r in results["one process (SQLite)"])
    print(f"\nmedians of {args.repeat} runs, {CLIENTS} clients, {SENDERS} senders x "
          f"{args.lines} lines, Redis appendfsync {args.appendfsync}:")
    for name, rows in results.items():
        rate = statistics.median(r["deliveries/s"] for r in rows)
        line = (f"{name}: {rate:,.0f} deliveries/s ({rate / base:.2f}x one process), "
                f"node CPU {statistics.median(r['node CPU s'] for r in rows):.1f} s, "
                f"lost {sum(r['lost'] for r in rows)}, "
                f"corrupted {sum(r['corrupted'] for r in rows)}")
        if "Redis ops/line" in rows[0]:
            line += (f", Redis {statistics.median(r['Redis ops/line'] for r in rows):.3f} ops "
                     f"and {statistics.median(r['Redis CPU ms/line'] for r in rows):.3f} ms "
                     "CPU per line")
        print(line)
    # Paced: a line every half second from each sender, so that lines
    # seldom share a batch: what a line said alone costs.
    for nodes, interval in ((1, 0.0), (2, 0.0), (2, 0.5)):
        found = roundTrips(nodes, 200 if interval == 0 else 10, fsync, interval)
        pace = "a burst" if interval == 0 else f"a line every {interval:g} s per sender"
        print(f"\n{nodes} node(s), {pace}, per line said, with MONITOR:")
        for kind, counts in found.items():
            print(f"  {kind}: {sum(counts.values()):.3f} ("
                  + ", ".join(f"{k} {v:.3f}" for k, v in counts.items()) + ")")


if __name__ == "__main__":
    main()
