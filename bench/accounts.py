"""
Accounts on globalchat's wire, for the login scenario: registering them
the way a user does, and a storm of logins to them with the right
password, counted as they complete.

Logging in to an account costs the server a password hash (scrypt, tens
of milliseconds of CPU in its thread pool); the storm keeps that pool
busy while the chat's latency is measured.  Only right passwords are
used: wrong ones would meet the login throttle and measure its back-off
instead.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import queue
import sys
import time
from dataclasses import dataclass, field

from bench.loadgen import leaveServerCPU

STEP_LIMIT = 30.0
"""Seconds one step of a login (an answer from the server) may take
before the login counts as failed: under a storm, hashes queue up."""


class Refused(Exception):
    """The server answered a login or registration with an C{ERROR} line."""


async def _expect(reader: asyncio.StreamReader, wanted: str) -> None:
    """
    Read lines until C{wanted} comes.

    @raise Refused: on an C{ERROR} line, or if the server hangs up first.
    """
    while True:
        raw = await asyncio.wait_for(reader.readline(), STEP_LIMIT)
        if not raw:
            raise Refused(f"connection closed before {wanted!r}")
        line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
        if line == wanted:
            return
        if line.startswith("ERROR "):
            raise Refused(line)


async def _session(port: int, name: str, steps: list[tuple[str, str]]) -> float:
    """
    Connect, send C{name}, then for each step a line and the answer to wait
    for, and finally C{/quit}, waiting until the server has closed (so that
    the name is free again when this returns).

    @return: the C{time.time()} at which the last answer came.
    """
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port),
                                            STEP_LIMIT)
    try:
        writer.write(f"{name}\n".encode())
        for line, answer in steps:
            if line:
                writer.write(f"{line}\n".encode())
            await _expect(reader, answer)
        done = time.time()
        writer.write(b"/quit\n")
        while await asyncio.wait_for(reader.read(65536), STEP_LIMIT):
            pass
    finally:
        writer.close()
    return done


async def _registerAll(port: int, names: list[str], password: str, concurrency: int) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def register(name: str) -> None:
        async with gate:
            await _session(port, name, [("", f"JOIN #lobby {name}"),
                                        (f"/register {password}", "OK /register")])

    await asyncio.gather(*(register(name) for name in names))


def register(port: int, names: list[str], password: str, concurrency: int = 20) -> None:
    """
    Make each of C{names} an account with C{password}, as a user does: log
    in as a guest, C{/register PASSWORD}, C{/quit}.

    @raise Refused: if any registration is refused.
    """
    asyncio.run(_registerAll(port, names, password, concurrency))


async def _logIn(port: int, name: str, password: str) -> float:
    """
    One login to an account, as a client makes it: the name, C{AUTH name}
    back, the password, then in the room; then out again.

    @return: when it was in.
    """
    return await _session(port, name, [("", f"AUTH {name}"), (password, f"JOIN #lobby {name}")])


@dataclass
class StormResult:
    """
    What a login storm did.

    @ivar times: C{time.time()} at which each login completed.
    @ivar failures: why each failed login failed.
    """

    times: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


async def _storm(port: int, names: list[str], password: str, concurrency: int,
                 stop: multiprocessing.synchronize.Event) -> StormResult:
    """
    C{concurrency} clients each logging in to its own share of C{names},
    one after the other and round and round, until C{stop} is set.  No two
    clients share an account, so none is refused as "name taken".
    """
    result = StormResult()

    async def loginer(mine: list[str]) -> None:
        while not stop.is_set():
            for name in mine:
                if stop.is_set():
                    return
                try:
                    result.times.append(await _logIn(port, name, password))
                except (Refused, OSError, asyncio.TimeoutError) as e:
                    result.failures.append(f"{name}: {e!r}")

    await asyncio.gather(*(loginer(names[i::concurrency]) for i in range(concurrency)))
    return result


def _stormProcess(port: int, names: list[str], password: str, concurrency: int,
                  stop: multiprocessing.synchronize.Event, results: multiprocessing.Queue) -> None:
    leaveServerCPU()
    try:
        results.put(asyncio.run(_storm(port, names, password, concurrency, stop)))
    except Exception as e:
        print(f"login storm failed: {e!r}", file=sys.stderr)
        results.put(StormResult(failures=[repr(e)]))


class LoginStorm:
    """
    Logins to accounts, C{concurrency} at a time, in a process of its own
    off the server's CPU (like the load generator), from L{start} until
    L{stop}.
    """

    def __init__(self, port: int, names: list[str], password: str, concurrency: int) -> None:
        if concurrency > len(names):
            raise ValueError("a login storm needs an account per concurrent login")
        context = multiprocessing.get_context("fork")
        self._stop = context.Event()
        self._results: multiprocessing.Queue = context.Queue()
        self._process = context.Process(
            target=_stormProcess, args=(port, names, password, concurrency, self._stop,
                                        self._results), daemon=True)
        self._result: StormResult | None = None

    def start(self) -> None:
        self._process.start()

    def stop(self) -> StormResult:
        """
        Start no more logins, let those under way finish (each step bounded
        by L{STEP_LIMIT}), and say what happened.  Safe to call again, or
        on a storm that never started, so that a run that fails midway
        still ends it.
        """
        if self._result is not None:
            return self._result
        self._stop.set()
        if self._process.pid is None:
            self._result = StormResult(failures=["the login storm never started"])
            return self._result
        try:
            self._result = self._results.get(timeout=3 * STEP_LIMIT + 10)
        except queue.Empty:
            self._result = StormResult(failures=["the login storm never reported"])
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5)
        return self._result
