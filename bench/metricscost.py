"""
C{python -m bench.metricscost}: what C{--metrics} costs the fan-out.

The burst fan-out scenario is run against globalchat with and without
C{--metrics} (scraped every second) in pairs, in the order A B B A so
that neither side always runs first, and each pair's ratio is printed
with the median over all pairs: a single pair on a busy machine varies
by more than the cost being measured.  Then the server's CPU for one
scrape is measured over many, since scrapes are all that C{--metrics}
adds: the counters themselves are kept either way.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import time
import urllib.request

from bench.loadgen import raiseFileLimit
from bench.scenarios import BIG_SEND_BUFFER, SCENARIOS
from bench.servers import (
    METRICS_LISTENING,
    PEERS,
    SCRAPE_INTERVAL,
    Peer,
    cpuSeconds,
    peerKey,
    running,
)

COLUMNS = ("deliveries/s", "deliveries/CPU-s")


def scrapeSeconds(metrics: Peer, clients: int = 100, scrapes: int = 200) -> float:
    """
    The server's CPU seconds for one scrape of its C{/metrics}, HTTP and
    all, with C{clients} logged in: C{scrapes} of them back to back.
    """
    with running(metrics, BIG_SEND_BUFFER) as server:
        sockets = [socket.create_connection(("127.0.0.1", server.port), timeout=10)
                   for _ in range(clients)]
        try:
            for number, client in enumerate(sockets):
                client.sendall(f"u{number}\n".encode())
            found = METRICS_LISTENING.search(server.log.read_bytes())
            if found is None:
                raise RuntimeError(f"{metrics.name} logged no metrics port")
            url = f"http://127.0.0.1:{int(found.group(1))}/metrics"
            deadline = time.monotonic() + 30
            while usersOnline(url) < clients:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{clients} clients did not all log in within 30 s")
                time.sleep(0.5)
            started = cpuSeconds(server.process.pid)
            for _ in range(scrapes):
                usersOnline(url)
            return (cpuSeconds(server.process.pid) - started) / scrapes
        finally:
            for client in sockets:
                client.close()


def usersOnline(url: str) -> float:
    """
    Scrape C{url}: how many users are online.
    """
    with urllib.request.urlopen(url, timeout=10) as answer:
        text = answer.read().decode("utf-8")
    return float(re.search(r"^globalchat_users_online (\S+)$", text, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.metricscost",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=6, help="pairs of runs (default 6)")
    args = parser.parse_args()
    raiseFileLimit()
    burst = next(s for s in SCENARIOS if s.name == "burst")
    peers = {peerKey(p): p for p in PEERS}
    plain, metrics = peers["globalchat"], peers["globalchat-metrics"]
    ratios: dict[str, list[float]] = {column: [] for column in COLUMNS}
    for pair in range(args.pairs):
        order = (plain, metrics) if pair % 2 == 0 else (metrics, plain)
        rows = {peer.name: burst.run(peer, burst.sizes.full)[0] for peer in order}
        line = []
        for column in COLUMNS:
            ratio = rows[metrics.name][column] / rows[plain.name][column]
            ratios[column].append(ratio)
            line.append(f"{column} {rows[plain.name][column]:,.0f} vs "
                        f"{rows[metrics.name][column]:,.0f} ({ratio:.3f}x)")
        print(f"pair {pair + 1} ({order[0].name} first): " + "; ".join(line), flush=True)
    for column in COLUMNS:
        print(f"median {column} with --metrics: {statistics.median(ratios[column]):.3f}x of "
              f"without (min {min(ratios[column]):.3f}x, max {max(ratios[column]):.3f}x)")
    cost = scrapeSeconds(metrics)
    print(f"one scrape with 100 users online: {cost * 1000:.2f} ms of the server's CPU; "
          f"{cost / SCRAPE_INTERVAL:.2%} of a CPU at one scrape every {SCRAPE_INTERVAL:g} s, "
          f"{cost / 15:.3%} at Prometheus's default of one every 15 s")


if __name__ == "__main__":
    main()
