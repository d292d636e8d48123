"""
C{python -m bench.rediscapacity}: how many lines one Redis takes, with
C{redis-benchmark} (Debian's redis-tools) against a redis-server of its
own: the store's script storing one line per call (the worst case: a
line said alone, no batch) under each persistence setting, and the
publish of one line to a room's channel as more nodes subscribe to it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from contextlib import ExitStack

from bench.cluster import command, redisServer
from globalchat.cluster import keys
from globalchat.cluster.store import _APPEND

#: One line as the store's script gets it, and as a channel carries it:
#: about the size of a line of chat and its envelope.
LINE = '1764662400.0,"lobby","Annabel",null,"msg","did anyone see the match last night?",null]'
EVENT = "x" * 160

PERSISTENCE = {
    "appendfsync always": ["--appendonly", "yes", "--appendfsync", "always"],
    "appendfsync everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "no persistence": ["--appendonly", "no"],
}


def benchmark(port: int, requests: int, *words: str) -> float:
    """
    Requests per second C{redis-benchmark} gets for one command, from 50
    clients at once.
    """
    done = subprocess.run(["redis-benchmark", "-p", str(port), "-q", "-c", "50",
                           "-n", str(requests), *words],
                          capture_output=True, text=True, timeout=600)
    found = re.findall(r"([\d.]+) requests per second", done.stdout)
    if not found:
        raise RuntimeError(f"redis-benchmark said: {done.stdout[-300:]} {done.stderr[-300:]}")
    return float(found[-1])


def usedMemory(port: int) -> int:
    info = command(port, "INFO", "memory")
    return int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))


def storing(requests: int) -> tuple[dict[str, float], float]:
    """
    Lines stored per second, one per script call, under each persistence
    setting; and the bytes of Redis's memory one stored line takes.
    """
    rates = {}
    for name, settings in PERSISTENCE.items():
        with redisServer(*settings) as port:
            sha = command(port, "SCRIPT", "LOAD", _APPEND.source)
            empty = usedMemory(port)
            rates[name] = benchmark(
                port, requests, "EVALSHA", sha, "5", keys.NEXT_ID, keys.MESSAGES,
                keys.CLIENT_IDS, keys.HISTORIES, keys.history("lobby"), "5", LINE, "")
            perLine = (usedMemory(port) - empty) / int(command(port, "GET", keys.MESSAGES))
    return rates, perLine


def subscribers(port: int, channel: str) -> int:
    """
    How many connections listen on C{channel}.
    """
    done = subprocess.run(["redis-cli", "-p", str(port), "PUBSUB", "NUMSUB", channel],
                          capture_output=True, text=True, timeout=10)
    return int(done.stdout.split()[-1])


def publishing(requests: int, widths: list[int]) -> dict[int, float]:
    """
    Publishes per second to a room's channel with C{width} subscribers
    (one per node that has members in the room).
    """
    rates = {}
    channel = keys.roomChannel(0, "lobby")
    with redisServer("--appendonly", "no") as port:
        for width in widths:
            with ExitStack() as stack:
                for _ in range(width):
                    listener = subprocess.Popen(
                        ["redis-cli", "-p", str(port), "SUBSCRIBE", channel],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    stack.callback(listener.wait, 10)
                    stack.callback(listener.terminate)
                deadline = time.monotonic() + 10
                while subscribers(port, channel) < width:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{width} redis-cli did not subscribe")
                    time.sleep(0.05)
                rates[width] = benchmark(port, requests, "PUBLISH", channel, EVENT)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.rediscapacity",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000,
                        help="requests per measure (default 200000)")
    args = parser.parse_args()
    rates, perLine = storing(args.requests)
    for name, rate in rates.items():
        print(f"store one line per call, {name}: {rate:,.0f} lines/s", flush=True)
    print(f"Redis memory per stored line ({len(LINE) + 8} bytes of JSON with its id): "
          f"{perLine:.0f} bytes", flush=True)
    for width, rate in publishing(args.requests, [0, 1, 2, 4, 8, 16, 32]).items():
        print(f"publish one line to {width} subscribed nodes: {rate:,.0f} lines/s "
              f"({rate * width:,.0f} messages out/s)", flush=True)


if __name__ == "__main__":
    main()
