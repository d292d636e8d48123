"""
The load generator: chat clients spread over several processes (on the
CPUs the servers are not pinned to), so that the generator is not what
limits the server.

Every client checks every chat line it gets: a line is lost if it never
arrives, corrupted if it arrives split, merged, altered or out of order
for its sender.  One process's clients log in, report, wait for the
word to go, chat, report again and hold their connections until told to
let go, so that the driver can measure the server at each step.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import queue
import random
import resource
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.servers import SERVER_CPU
from bench.wire import DIALECTS, MARK, Dialect, damage, parsePayload, payload

SLOW_RECEIVE_BUFFER = 4096
"""The socket receive buffer of a client that stops reading, kept small so
that the kernel does not soak up what the server has to deal with."""


@dataclass(frozen=True)
class Plan:
    """
    What one load-generator process does.

    @ivar names: its clients.
    @ivar sends: how many lines each of its sending clients sends.
    @ivar expected: how many lines every sender of the whole run sends, so
        that each client knows when it has everything.
    @ivar interval: seconds between one sender's lines; 0 writes them all
        at once, as fast as the socket takes them.
    @ivar slow: clients that stop reading once they are in the room.
    @ivar probe: keep every line's latency (for a process of its own).
    @ivar concurrency: logins in flight at once; 0 for all at once.
    @ivar stall: seconds without a line, once all is sent, that end the run;
        also how long a slow reader, reading again, is given to find out
        whether the server dropped it.
    """

    port: int
    dialect: str
    names: tuple[str, ...]
    sends: dict[str, int] = field(default_factory=dict)
    expected: dict[str, int] = field(default_factory=dict)
    interval: float = 0.0
    slow: frozenset[str] = frozenset()
    probe: bool = False
    concurrency: int = 20
    stall: float = 3.0
    loginLimit: float = 60.0
    runLimit: float = 60.0
    web: frozenset[str] = frozenset()
    webPort: int = 0
    label: str = ""
    rooms: dict[str, str] = field(default_factory=dict)
    native: bool = False
    serverPid: int = 0

    def room(self, name: str) -> str:
        """The room (without its C{#}) client C{name} chats in."""
        return self.rooms.get(name, "lobby")

    def expects(self, name: str) -> int:
        """How many lines client C{name} should get in all."""
        echoes = DIALECTS[self.dialect].echoes
        room = self.room(name)
        return sum(n for sender, n in self.expected.items()
                   if self.room(sender) == room and (echoes or sender != name))


@dataclass
class Tally:
    """
    What some clients saw; tallies of several processes add up.

    @ivar dropped: connections (other than slow readers) the server
        closed before the end.
    @ivar lastAt: C{time.time()} of the last delivery.
    @ivar slowClosed: slow readers the server disconnected.
    @ivar goAt: C{time.time()} the clients were told to go (0: the driver's).
    @ivar firstAt: C{time.time()} of the first delivery.
    @ivar serverCpu: the server's CPU seconds from go to the last
        delivery, read by the generator (NaN: not read there).
    @ivar generatorCpu: the generator's own CPU seconds over the same time.
    @ivar generatorKernel: how many of those were spent in the kernel (read
        by the C generator only).
    """

    clients: int = 0
    joined: int = 0
    received: int = 0
    corrupted: int = 0
    dropped: int = 0
    lastAt: float = 0.0
    latencies: list[float] = field(default_factory=list)
    slowClosed: int = 0
    slowBytes: int = 0
    label: str = ""
    goAt: float = 0.0
    firstAt: float = 0.0
    serverCpu: float = math.nan
    generatorCpu: float = 0.0
    generatorKernel: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        starts = [t for t in (self.firstAt, other.firstAt) if t]
        gos = [t for t in (self.goAt, other.goAt) if t]
        cpus = [c for c in (self.serverCpu, other.serverCpu) if not math.isnan(c)]
        return Tally(
            self.clients + other.clients, self.joined + other.joined,
            self.received + other.received, self.corrupted + other.corrupted,
            self.dropped + other.dropped, max(self.lastAt, other.lastAt),
            self.latencies + other.latencies, self.slowClosed + other.slowClosed,
            self.slowBytes + other.slowBytes,
            self.label if self.label == other.label else "",
            min(gos, default=0.0), min(starts, default=0.0), max(cpus, default=math.nan),
            self.generatorCpu + other.generatorCpu,
            self.generatorKernel + other.generatorKernel)


class Client(asyncio.Protocol):
    """
    One chat connection that checks, counts and (for a probe) times every
    chat line it receives.
    """

    def __init__(self, name: str, dialect: Dialect, expect: int, probe: bool) -> None:
        loop = asyncio.get_running_loop()
        self.name = name
        self.dialect = dialect
        self.expect = expect
        self.probe = probe
        self.joined = loop.create_future()
        self.complete = loop.create_future()
        self.closed = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.lastSeq: dict[str, int] = {}
        self.received = self.malformed = self.reordered = self.bytes = 0
        self.lastAt = 0.0
        self.latencies: list[float] = []
        if expect <= 0:
            self.complete.set_result(None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.dialect.login(self.name))  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set_result(None)
        if not self.joined.done():
            self.joined.set_result(False)
        if not self.complete.done():
            self.complete.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.bytes += len(data)
        chunk = self.buffer + data
        if MARK not in chunk and self.joined.done():
            # No chat line in here (other people's joins, say): skip parsing,
            # or thousands of clients parsing each other's joins would make
            # the generator, not the server, the bottleneck.
            self.buffer = chunk[chunk.rfind(b"\n") + 1 :]
            return
        lines = chunk.split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            if line.endswith(b"\r"):
                line = line[:-1]
            if MARK in line:
                self._chat(line)
            elif not self.joined.done() and self.dialect.joined(line, self.name):
                self.joined.set_result(True)

    def _chat(self, line: bytes) -> None:
        dialect = self.dialect
        if dialect.ignored is not None and dialect.ignored.match(line):
            return
        match = dialect.delivery.fullmatch(line)
        parsed = parsePayload(match["text"]) if match else None
        if (parsed is None or ("name" in dialect.delivery.groupindex
                               and match["name"].decode() != parsed[0])):
            # pieces of several lines run together: each framing that
            # starts in the middle (ncat's "<userN> ") begins another
            self.malformed += dialect.pieces(line)
            return
        sender, seq, sentAt = parsed
        if seq <= self.lastSeq.get(sender, -1):
            self.reordered += 1
            return
        self.lastSeq[sender] = seq
        self.received += 1
        self.lastAt = now = time.time()
        if self.probe and sender != self.name:
            self.latencies.append(now - sentAt)
        if self.received >= self.expect and not self.complete.done():
            self.complete.set_result(None)

    @property
    def corrupted(self) -> int:
        """Lines that arrived damaged (see L{bench.wire.damage})."""
        return damage(self.expect, self.received, self.malformed, self.reordered)

    async def say(self, count: int, interval: float, phase: float) -> None:
        """
        Send C{count} bench lines: all at once if C{interval} is 0, else one
        every C{interval} seconds starting C{phase} seconds from now.
        """
        assert self.transport is not None
        say = self.dialect.say
        if not interval:
            self.transport.write(b"".join(
                say(payload(self.name, seq, time.time())) for seq in range(count)))
            return
        start = time.monotonic() + phase
        for seq in range(count):
            await asyncio.sleep(max(0.0, start + seq * interval - time.monotonic()))
            if self.transport.is_closing():
                return
            self.transport.write(say(payload(self.name, seq, time.time())))


async def _connect(plan: Plan, name: str, deadline: float) -> Client:
    """
    Open one client's connection and log it in, giving up at C{deadline}
    (monotonic); the client's C{joined} says whether it got in.
    """
    dialect = DIALECTS[plan.dialect]
    expect = plan.expects(name)
    port = plan.port
    if name in plan.web:
        from bench.webload import WebClient

        client: Client = WebClient(name, dialect, expect, plan.probe)
        port = plan.webPort
    else:
        client = Client(name, dialect, 0 if name in plan.slow else expect, plan.probe)
    loop = asyncio.get_running_loop()
    try:
        sock = socket.socket()
    except OSError:
        return client
    try:
        sock.setblocking(False)
        if name in plan.slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER)
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)),
                               deadline - time.monotonic())
        await loop.create_connection(lambda: client, sock=sock)
        if not await asyncio.wait_for(asyncio.shield(client.joined), deadline - time.monotonic()):
            return client
    except (OSError, asyncio.TimeoutError):
        sock.close()
        return client
    if name in plan.slow:
        client.transport.pause_reading()  # type: ignore[union-attr]
    return client


class Handshake:
    """
    How a load-generator process and the driver keep in step: the worker
    says it is in, waits for go, hands over its tally, and holds its
    connections until released.  Every wait is bounded by C{limit}.
    """

    def __init__(self, limit: float) -> None:
        context = multiprocessing.get_context("fork")
        self.limit = limit
        self._ready: multiprocessing.Queue = context.Queue()
        self._tallies: multiprocessing.Queue = context.Queue()
        self._go = context.Event()
        self._release = context.Event()

    # The worker's side.
    def ready(self, joined: int) -> None:
        self._ready.put(joined)

    def waitGo(self) -> None:
        self._go.wait(self.limit)

    def report(self, tally: Tally) -> None:
        self._tallies.put(tally)

    def waitRelease(self) -> None:
        self._release.wait(self.limit)

    # The driver's side.
    def joined(self, workers: int, limit: float) -> int:
        return sum(_collect(self._ready, workers, limit, 0))

    def go(self) -> None:
        self._go.set()

    def tallies(self, workers: int, limit: float) -> list[Tally]:
        return [t for t in _collect(self._tallies, workers, limit, None) if t]

    def release(self) -> None:
        self._go.set()
        self._release.set()


async def _settle(clients: list[Client], senders: list[asyncio.Task], plan: Plan) -> None:
    """
    Wait until every client has all its lines, or nothing has arrived for
    C{plan.stall} seconds after the last line was sent (lines that were
    lost or mangled never complete a client), or C{plan.runLimit} passed.
    """
    end = time.monotonic() + plan.runLimit
    seen, quietSince = -1, time.monotonic()
    while time.monotonic() < end:
        awaited = [c.complete for c in clients if not c.complete.done()]
        if not awaited:
            return
        await asyncio.wait(awaited, timeout=0.25)
        now = time.monotonic()
        progress = sum(c.received + c.malformed + c.reordered for c in clients)
        if progress != seen or not all(task.done() for task in senders):
            seen, quietSince = progress, now
        elif now - quietSince > plan.stall:
            return


async def _run(plan: Plan, handshake: Handshake) -> None:
    deadline = time.monotonic() + plan.loginLimit
    gate = asyncio.Semaphore(plan.concurrency or len(plan.names))

    async def login(name: str) -> Client:
        async with gate:
            return await _connect(plan, name, deadline)

    clients = await asyncio.gather(*(login(name) for name in plan.names))
    joined = [c for c in clients if c.joined.done() and c.joined.result()]
    handshake.ready(len(joined))
    await asyncio.to_thread(handshake.waitGo)
    cpuAtGo = _ownCpu()
    tasks = [asyncio.create_task(c.say(plan.sends[c.name], plan.interval,
                                       random.Random(c.name).uniform(0, plan.interval)))
             for c in joined if c.name in plan.sends]
    await _settle(joined, tasks, plan)
    for task in tasks:
        task.cancel()
    tally = Tally(clients=len(clients), joined=len(joined), label=plan.label,
                  generatorCpu=_ownCpu() - cpuAtGo)
    for client in joined:
        if client.name in plan.slow:
            client.transport.resume_reading()  # type: ignore[union-attr]
            await asyncio.wait([client.closed], timeout=plan.stall)
            tally.slowClosed += client.closed.done()
            tally.slowBytes += client.bytes
            continue
        tally.received += client.received
        tally.corrupted += client.corrupted
        tally.dropped += client.closed.done()
        tally.lastAt = max(tally.lastAt, client.lastAt)
        tally.latencies += client.latencies
    handshake.report(tally)
    await asyncio.to_thread(handshake.waitRelease)
    for client in clients:
        if client.transport is not None:
            client.transport.abort()


def _ownCpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raiseFileLimit() -> None:
    """
    Allow as many open files as the system lets us: thousands of clients
    (and the servers, which inherit it) need that many sockets.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def leaveServerCPU() -> None:
    """
    Run this process on every CPU but the server's, so that the load does
    not take CPU time from the server it measures.
    """
    cpus = os.sched_getaffinity(0) - {SERVER_CPU}
    if cpus:
        os.sched_setaffinity(0, cpus)


def _worker(plan: Plan, handshake: Handshake) -> None:
    """
    One load-generator process: off the server's CPU, runs C{plan}.  If it
    fails it still reports, so that the driver need not wait it out.
    """
    leaveServerCPU()
    raiseFileLimit()
    try:
        if plan.native:
            from bench.fanload import run

            run(plan, handshake)
        else:
            asyncio.run(asyncio.wait_for(_run(plan, handshake), handshake.limit))
    except Exception as e:
        print(f"load generator failed: {e!r}", file=sys.stderr)


@dataclass
class Outcome:
    """
    A finished run: what the clients saw, how many got in, and when the
    driver said go (C{time.time()}); and what each process saw.
    """

    tally: Tally
    joined: int
    goAt: float
    parts: list[Tally] = field(default_factory=list)


def drive(plans: list[Plan], whenReady: Callable[[int], None] | None = None,
          beforeRelease: Callable[[], None] | None = None) -> Outcome:
    """
    Run one process per plan: wait until all have logged in (then call
    C{whenReady} with how many got in), let them chat, collect what they
    saw (then call C{beforeRelease} while every connection is still open),
    and end them.  Bounded in time by the plans' own limits.
    """
    loginLimit = max(p.loginLimit for p in plans) + 15
    runLimit = max(p.runLimit for p in plans) + 20
    handshake = Handshake(loginLimit + runLimit)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_worker, args=(p, handshake), daemon=True) for p in plans]
    try:
        for worker in workers:
            worker.start()
        joined = handshake.joined(len(plans), loginLimit)
        if whenReady is not None:
            whenReady(joined)
        goAt = time.time()
        handshake.go()
        parts = handshake.tallies(len(plans), runLimit)
        if beforeRelease is not None:
            beforeRelease()
        return Outcome(sum(parts, Tally()), joined, goAt, parts)
    finally:
        handshake.release()
        end = time.monotonic() + 10
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))
            if worker.is_alive():
                worker.kill()
                worker.join(5)


def _collect(source: multiprocessing.Queue, count: int, limit: float, missing: object) -> list:
    """
    Up to C{count} items from C{source} within C{limit} seconds; those that
    did not come are C{missing}.
    """
    deadline = time.monotonic() + limit
    items = []
    for _ in range(count):
        try:
            items.append(source.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            items.append(missing)
    return items
