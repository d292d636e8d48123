"""
One load-generator process as the C fan-out generator
(C{bench/native/fanload.c}): the plan goes to it as text, and it keeps
step with the driver through the same L{bench.loadgen.Handshake} as the
asyncio clients.  It reads the server's CPU time itself, at go and at
the last delivery, so that the window measured is exactly the chat.
"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import TYPE_CHECKING

from bench.native import program

if TYPE_CHECKING:
    from bench.loadgen import Handshake, Plan, Tally


def config(plan: Plan) -> str:
    """
    The plan as C{fanload} reads it: settings, then one line per client.
    """
    senders = 1 + max((int(name[1:]) for name in plan.expected), default=0)
    lines = [f"port {plan.port}", f"dialect {plan.dialect}", f"server {plan.serverPid}",
             f"senders {senders}", f"concurrency {plan.concurrency}",
             f"limits {plan.loginLimit} {plan.stall} {plan.runLimit}",
             f"interval {plan.interval}"]
    lines += [f"client {name} {plan.room(name)} {plan.sends.get(name, 0)} "
              + ("0 slow" if name in plan.slow else str(plan.expects(name)))
              for name in plan.names]
    return "\n".join([*lines, "end", ""])


def parseTally(text: str) -> Tally:
    """
    A L{Tally} from C{fanload}'s C{tally} line.
    """
    from bench.loadgen import Tally

    fields = dict(item.split("=", 1) for item in text.split()[1:])
    ticks = int(fields["serverTicks"])
    return Tally(
        clients=int(fields["clients"]), joined=int(fields["joined"]),
        received=int(fields["received"]), corrupted=int(fields["corrupted"]),
        dropped=int(fields["dropped"]), lastAt=float(fields["lastAt"]),
        goAt=float(fields["goAt"]), firstAt=float(fields["firstAt"]),
        serverCpu=ticks / int(fields["clockTicks"]) if ticks >= 0 else math.nan,
        generatorCpu=float(fields["generatorCpu"]),
        generatorKernel=float(fields["generatorKernel"]), slowClosed=int(fields["slowClosed"]),
        slowBytes=int(fields["slowBytes"]))


def run(plan: Plan, handshake: Handshake) -> None:
    """
    Run C{plan} in C{fanload}: report how many got in, wait for go, report
    what they saw, hold the connections until released.
    """
    process = subprocess.Popen([str(program("fanload"))], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(config(plan))
        process.stdin.flush()
        ready = process.stdout.readline().split()
        handshake.ready(int(ready[1]) if ready[:1] == ["ready"] else 0)
        handshake.waitGo()
        process.stdin.write("go\n")
        process.stdin.flush()
        tally = process.stdout.readline()
        if not tally.startswith("tally "):
            print(f"load generator said {tally!r}", file=sys.stderr)
            handshake.report(None)  # type: ignore[arg-type]
            return
        handshake.report(parseTally(tally))
        handshake.waitRelease()
        process.stdin.write("release\n")
        process.stdin.flush()
    finally:
        process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
