"""
C{python -m bench.nodekill [RUNS]}: how long after a cluster node is
killed (SIGKILL) its users' names can be taken on another node.

Two nodes share a redis-server of the run's own.  Each run starts a node,
logs a user in on it, waits a different fraction of a heartbeat, kills the
node, and tries every 50 ms to log in under the same name on the other
node; the time until that works is the figure.  The heartbeat
(L{globalchat.cluster.keys}) promises more than EXPIRY - INTERVAL and at
most EXPIRY seconds.
"""

from __future__ import annotations

import signal
import socket
import sys
import time

from bench.cluster import nodePeer, redisServer
from bench.servers import running
from globalchat.cluster import keys

#: Bounds of one run, in seconds.
START_LIMIT, FREE_LIMIT = 30.0, 15.0


def greeted(port: int, name: str) -> bool:
    """
    Whether logging in as C{name} on 127.0.0.1:C{port} is accepted.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(name.encode() + b"\n")
        first = s.makefile("rb").readline()
    return first.startswith(b"Hello")


def measure(runs: int) -> list[float]:
    freed = []
    with redisServer() as redis:
        url = f"redis://127.0.0.1:{redis}/0"
        with running(nodePeer(url), 1 << 20, START_LIMIT) as other:
            for run in range(runs):
                name = f"Ann{run}"
                with running(nodePeer(url), 1 << 20, START_LIMIT) as doomed:
                    with socket.create_connection(("127.0.0.1", doomed.port), timeout=5) as s:
                        s.sendall(name.encode() + b"\n")
                        s.makefile("rb").readline()
                        # Kill at a different point of the heartbeat each run.
                        time.sleep(0.3 + keys.HEARTBEAT_INTERVAL * run / runs)
                        doomed.process.send_signal(signal.SIGKILL)
                        doomed.process.wait(10)
                        killed = time.monotonic()
                        while not greeted(other.port, name):
                            if time.monotonic() - killed > FREE_LIMIT:
                                raise RuntimeError(f"{name} still taken after {FREE_LIMIT:g} s")
                            time.sleep(0.05)
                        freed.append(time.monotonic() - killed)
                print(f"run {run + 1}: {name} free {freed[-1]:.2f} s after SIGKILL", flush=True)
    return freed


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    freed = measure(runs)
    print(f"heartbeat every {keys.HEARTBEAT_INTERVAL:g} s, expiry {keys.HEARTBEAT_EXPIRY:g} s: "
          f"names free {min(freed):.2f} to {max(freed):.2f} s after SIGKILL "
          f"({runs} runs)")


if __name__ == "__main__":
    main()
