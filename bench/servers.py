"""
Starting and stopping the servers under test, all on 127.0.0.1.

Every server runs pinned to CPU 0 (when C{taskset} exists and there is
more than one CPU) so that they are compared on equal terms and the load
generator has the other CPUs to itself.  A server that is not installed
is skipped with a reason, never a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench import profile

ROOT = Path(__file__).resolve().parent.parent
TWISTD = str(Path(sys.executable).parent / "twistd")
SERVER_CPU = 0

#: Seconds between two scrapes of C{/metrics}: Prometheus's default is 15,
#: this is the cost of metrics at its worst.
SCRAPE_INTERVAL = 1.0

#: The line a globalchat logs once its metrics listen.
METRICS_LISTENING = re.compile(rb"listening on 127\.0\.0\.1:(\d+) \(--metrics ")

Command = Callable[[int, Path, int], list[str]]
"""Builds a server's command line from its port, a scratch directory and
the send buffer (bytes) after which it should drop a client that stopped
reading, where it has such a setting."""


@dataclass(frozen=True)
class Peer:
    """
    One server to measure.

    @ivar dialect: the key of its L{bench.wire.DIALECTS} entry.
    @ivar missing: why it cannot run here, or C{None} if it can.
    @ivar notes: settings changed from its defaults, for the report.
    @ivar accounts: whether it has globalchat's accounts (C{/register},
        C{AUTH}), for the login scenario.
    @ivar scraped: whether its C{/metrics} is scraped while it runs.
    @ivar only: the scenarios it takes part in (C{None}: all).
    @ivar hidden: run only when named in C{--servers}.
    @ivar python: whether it is a Python program (C{--profile} records it).
    """

    name: str
    dialect: str
    command: Command
    missing: Callable[[], str | None]
    notes: str = ""
    accounts: bool = False
    scraped: bool = False
    only: frozenset[str] | None = None
    hidden: bool = False
    python: bool = False

    def takesPart(self, scenario: str) -> bool:
        return self.only is None or scenario in self.only


def serverEnvironment() -> dict[str, str]:
    """
    The environment servers run in: this checkout first on the path, so
    that the globalchat measured is the one in this tree.
    """
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def _globalchat(*extra: str) -> Command:
    def command(port: int, scratch: Path, sendBuffer: int) -> list[str]:
        return [TWISTD, "-n", "--pidfile=", "globalchat",
                "--port", f"tcp:{port}:interface=127.0.0.1", "--data-dir", str(scratch),
                "--rate", "1000000/s", "--burst", "1000000", "--max-per-ip", "100000",
                "--max-connections", "100000", "--connect-rate", "1000000/s", "--max-send-buffer", str(sendBuffer), *extra]
    return command


def _needsProgram(program: str) -> Callable[[], str | None]:
    return lambda: None if shutil.which(program) else f"{program} is not installed"


def _floor(port: int, scratch: Path, sendBuffer: int) -> list[str]:
    return [sys.executable, "-m", "bench.floor", str(port)]


def _trivial(mode: str, split: int = 0) -> Command:
    def command(port: int, scratch: Path, sendBuffer: int) -> list[str]:
        from bench.native import program

        return [str(program("fanserve")), str(port), str(scratch / WORKLOAD), mode, str(split)]
    return command


WORKLOAD = "workload"
"""The file in a server's scratch directory that tells a trivial server
what its clients will say: C{lines N}, then C{sender NAME ROOM} lines."""

FANOUT = frozenset({"burst", "scaling"})
"""The scenarios a trivial server (which only answers fan-out) runs in."""


def _ncat(port: int, scratch: Path, sendBuffer: int) -> list[str]:
    return ["ncat", "--chat", "--listen", "--max-conns", "100000", "127.0.0.1", str(port)]


NGIRCD_CONF = """\
[Global]
Name = bench.localhost
Info = benchmark
Listen = 127.0.0.1
Ports = {port}
MotdPhrase = benchmark
PidFile = {scratch}/ngircd.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 20
MaxPenaltyTime = 0
PingTimeout = 3600
PongTimeout = 3600
[Options]
DNS = no
Ident = no
PAM = no
"""


def _ngircd(port: int, scratch: Path, sendBuffer: int) -> list[str]:
    conf = scratch / "ngircd.conf"
    conf.write_text(NGIRCD_CONF.format(port=port, scratch=scratch))
    return ["ngircd", "--nodaemon", "--config", str(conf)]


LIMITS_NOTE = ("--rate 1000000/s --burst 1000000 --max-per-ip 100000 --max-connections 100000 "
               "and a large --max-send-buffer (except in slow-reader), so limits do not throttle")

PEERS = [
    Peer("globalchat", "globalchat", _globalchat(), lambda: None, LIMITS_NOTE, accounts=True,
         python=True),
    Peer("globalchat --no-history", "globalchat", _globalchat("--no-history"),
         lambda: None, "as globalchat, history kept in memory only; in the burst and idle "
         "scenarios only (what history costs)", python=True,
         only=frozenset({"burst", "idle", "web"})),
    Peer("globalchat --metrics", "globalchat",
         _globalchat("--metrics", "tcp:0:interface=127.0.0.1"), lambda: None,
         f"as globalchat, its /metrics scraped every {SCRAPE_INTERVAL:g} s", scraped=True,
         python=True),
    Peer("floor", "floor", _floor, lambda: None,
         "bench/floor.py: the lines of one reactor turn written to each client at once, "
         "nothing else; not in the slow-reader scenario (it never drops anyone)", python=True,
         only=frozenset({"burst", "scaling", "paced", "idle", "storm"})),
    Peer("ncat --chat", "ncat", _ncat, _needsProgram("ncat"),
         "--max-conns 100000; senders get no copy of their own lines; one room only (not "
         "in the 50-room figure); not in the idle and connect-storm scenarios: it stops "
         "at about 1020 connections (select()'s limit of 1024 descriptors) and then exits; "
         "nor in the slow-reader scenario (it never drops anyone)",
         only=frozenset({"burst", "scaling", "paced"})),
    Peer("ngircd", "irc", _ngircd, _needsProgram("ngircd"),
         "IRC; MaxPenaltyTime=0 (its default flood penalty allows about 1 line/s "
         "per client), no DNS/ident lookups, no connection limits; "
         "senders get no copy of their own lines; not in scenario 2 (over 50 rooms it "
         "delivered 70 000 lines a second: a run would take minutes) nor in the idle and "
         "connect-storm scenarios (it took 60 s to let 2 000 clients into one channel)",
         only=frozenset({"burst", "paced", "slow-reader"})),
    Peer("ceiling", "floor", _trivial("floor"), lambda: None,
         "the load generator's own ceiling: bench/native/fanserve.c discards what it is "
         "sent and writes every client its room's lines, pre-built", only=FANOUT),
    Peer("broken", "floor", _trivial("floor", 100), lambda: None,
         "as ceiling, but every 100th line split in two: the corrupted count must be "
         "clients x lines / 100", only=FANOUT, hidden=True),
    Peer("ncat-like", "ncat", _trivial("ncat"), lambda: None,
         "as ceiling, framed as ncat --chat frames chunks: 0 corrupted expected",
         only=FANOUT, hidden=True),
]


def peerKey(peer: Peer) -> str:
    """
    The short name that C{--servers} takes: C{globalchat}, C{globalchat-nohistory},
    C{globalchat-metrics}, C{floor}, C{ncat}, C{ngircd}, C{ceiling},
    C{broken}, C{ncat-like}.
    """
    return peer.name.replace(" --no-", "-no").replace(" --chat", "").replace(" --", "-")


def freePort() -> int:
    """
    A TCP port on 127.0.0.1 that nothing listens on right now.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port: int, timeout: float = 2) -> bool:
    """
    Whether something on 127.0.0.1:C{port} accepts a connection.
    """
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
        return True
    except OSError:
        return False


def rss(pid: int) -> int:
    """
    The resident memory of process C{pid}, in bytes (0 once it is gone).
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpuSeconds(pid: int) -> float:
    """
    The CPU time (user and system) process C{pid} has used so far, so that
    a server's work can be told apart from how fast the generator reads.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pinning() -> list[str]:
    """
    The prefix that pins a server to L{SERVER_CPU}, or nothing where that
    would leave the load generator no CPU of its own.
    """
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) > 1:
        return ["taskset", "-c", str(SERVER_CPU)]
    return []


@dataclass
class Running:
    """
    A started server: its process (whose pid is the server's own, since
    C{taskset} execs it), its port and where its output goes.
    """

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def alive(self) -> bool:
        return self.process.poll() is None


@contextmanager
def running(peer: Peer, sendBuffer: int, startLimit: float = 30,
            workload: str = "") -> Iterator[Running]:
    """
    Run C{peer} on a free port for the duration of the block, then stop it
    (and anything it started) however the block ends.  C{workload} goes
    into its scratch directory's L{WORKLOAD} file.

    @raise RuntimeError: if it does not accept connections within
        C{startLimit} seconds.
    """
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        port = freePort()
        log = Path(scratch) / "server.log"
        (Path(scratch) / WORKLOAD).write_text(workload)
        with log.open("wb") as output:
            process = subprocess.Popen(
                [*pinning(), *peer.command(port, Path(scratch), sendBuffer)],
                cwd=ROOT, env=serverEnvironment(), stdin=subprocess.DEVNULL,
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + startLimit
            while not accepts(port, 1):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{peer.name} did not start: "
                                       f"{log.read_text(errors='replace').strip()[-300:]}")
                time.sleep(0.1)
            spy = profile.active.start(peer.name, process.pid) if (
                profile.active and peer.python) else None
            try:
                with scraping(log) if peer.scraped else nullcontext():
                    yield Running(process, port, log)
            finally:
                if spy is not None:
                    profile.Recorder.stop(spy)
        finally:
            _stop(process)


@contextmanager
def scraping(log: Path) -> Iterator[None]:
    """
    Scrape the C{/metrics} of the globalchat logging to C{log} every
    L{SCRAPE_INTERVAL} seconds, from a thread, for the duration of the
    block, as Prometheus would.
    """
    stop = threading.Event()

    def scrape() -> None:
        port = None
        while not stop.wait(SCRAPE_INTERVAL):
            if port is None:
                found = METRICS_LISTENING.search(log.read_bytes())
                port = int(found.group(1)) if found else None
            if port is not None:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
                    r.read()

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    try:
        yield
    finally:
        stop.set()
        scraper.join(15)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """
    End a server's whole process group: politely, then for sure.
    """
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
