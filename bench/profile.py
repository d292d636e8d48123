"""
Where a server's time goes while it is measured: C{--profile DIR} runs
C{py-spy record} on every Python server the bench starts and sums up
each recording by the functions that took the most samples.  Without
C{--native}: py-spy 0.4 cannot find the Python version of this machine's
interpreter with it, and time spent in C (a socket send, an SQLite
insert) still shows, as the Python function that called it.

py-spy is not a dependency of the bench: install it where you like
(C{python3 -m venv /tmp/spy && /tmp/spy/bin/pip install py-spy}) and put
it on C{PATH} or in C{$PY_SPY}.  A recording costs the server some CPU,
so figures of a profiled run are not comparable with others.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

RATE = 200
"""Samples a second."""

active: Recorder | None = None
"""The recorder of this run, if it is profiled (set by C{--profile})."""


def pySpy() -> str | None:
    """The py-spy program to run, or C{None} if there is none."""
    return os.environ.get("PY_SPY") or shutil.which("py-spy")


class Recorder:
    """
    Records each server handed to L{start} into C{folder}, one collapsed
    stack file (C{py-spy --format raw}) per server run.
    """

    def __init__(self, folder: Path) -> None:
        program = pySpy()
        if program is None:
            raise RuntimeError("--profile needs py-spy: pip install py-spy (in a venv of its "
                               "own) and put it on PATH or in $PY_SPY")
        self.program = program
        self.folder = folder
        self.count = 0
        folder.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, pid: int) -> subprocess.Popen[bytes]:
        self.count += 1
        out = self.folder / f"{self.count:02d}-{name.replace(' ', '')}.txt"
        return subprocess.Popen(
            [self.program, "record", "--nonblocking", "--rate", str(RATE),
             "--format", "raw", "--output", str(out), "--pid", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @staticmethod
    def stop(process: subprocess.Popen[bytes]) -> None:
        """End a recording so that it writes its file."""
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def summary(path: Path, top: int = 15) -> list[str]:
    """
    The functions that took the most samples in a collapsed stack file:
    by samples spent in the function itself, and by samples under it.
    """
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [_short(frame) for frame in stack.split(";")]
        own[frames[-1]] += samples
        for frame in set(frames):
            under[frame] += samples
    if not total:
        return [f"{path.name}: no samples"]
    lines = [f"{path.name}: {total} samples; most in the function itself:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["  most under the function (itself and what it calls; the reactor's own "
              "loop, under three quarters or more, left out):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in
              [(f, n) for f, n in under.most_common() if n < 0.75 * total][:top]]
    return lines


def _short(frame: str) -> str:
    """C{function (path/to/module.py:12)} without the line number."""
    head, _, where = frame.partition(" (")
    module = where.rsplit(":", 1)[0].rstrip(")")
    return f"{head} ({'/'.join(module.split('/')[-2:]) if module else '?'})"
