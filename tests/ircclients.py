"""
Real IRC clients against a real C{twistd globalchat --irc}, always bounded
in time: Debian's C{weechat-headless}, driven through its FIFO and read
through its logs, and jaraco's C{irc} library, as a bot would use it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from twisted.trial.unittest import SkipTest

from tests.processes import RawClient, Server

WEECHAT = "weechat-headless"

#: Seconds any one wait for a client may take.
WAIT = 15.0


def listeningPort(server: Server, description: str) -> int:
    """
    The port of the listener started from C{description}: tests spell
    each endpoint differently (C{tcp:0:...}, C{tcp:port=0:...}) so that
    the log's C{listening on ADDRESS (DESCRIPTION)} lines tell them apart.
    """
    pattern = re.compile(rb"listening on \S+:(\d+) \(" + re.escape(description.encode()) + rb"\)")
    return int(server.waitFor(pattern)[0].group(1))


def readUntil(client: RawClient, wanted: str, limit: int = 50) -> list[str]:
    """
    Read a line client's lines up to C{wanted}; all of them, C{wanted}
    last.  Fails after C{limit} other lines or the socket's time-out.
    """
    seen = []
    while wanted not in seen:
        if len(seen) >= limit:
            raise AssertionError(f"never got {wanted!r}; got {seen!r}")
        seen.append(client.readLine())
    return seen


def waitUntil(done: Callable[[], bool], what: Callable[[], str], step: Callable[[], None],
              timeout: float = WAIT) -> None:
    """
    Call C{step} until C{done}, for at most C{timeout} seconds.

    @param what: what was seen instead, for the failure message.
    """
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s; saw:\n{what()}")
        step()


class WeeChat:
    """
    C{weechat-headless} with a home of its own in a temporary folder,
    connected to one server as C{gc}: what a test wants it to type goes
    through its FIFO, and what it shows is read from its buffers' logs.
    """

    def __init__(self, testCase, port: int, nick: str, channels: str = "#lobby") -> None:
        if shutil.which(WEECHAT) is None:
            raise SkipTest(f"no {WEECHAT}: apt-get install weechat-headless weechat-plugins "
                           "(what .ci/run does)")
        self.home = Path(tempfile.mkdtemp(prefix="gc-weechat-"))
        testCase.addCleanup(shutil.rmtree, self.home, True)
        commands = [
            "/set logger.file.flush_delay 0",
            f"/set irc.server_default.nicks {nick}",
            f"/server add gc 127.0.0.1/{port} -notls -autojoin={channels}",
            "/connect gc",
        ]
        self.process = subprocess.Popen(
            [WEECHAT, "--dir", str(self.home), "--run-command", ";".join(commands)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        testCase.addCleanup(self.stop)
        self.fifo = self.home / f"weechat_fifo_{self.process.pid}"

    def log(self, buffer: str) -> str:
        """
        What a buffer (C{irc.gc.#lobby}, C{irc.server.gc}) has shown so far.
        """
        try:
            return (self.home / "logs" / f"{buffer}.weechatlog").read_text("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def waitFor(self, buffer: str, text: str) -> None:
        """
        Wait until C{text} is in C{buffer}'s log.
        """
        waitUntil(lambda: text in self.log(buffer),
                  lambda: self.log(buffer) or self.log("irc.server.gc") or "(no log)",
                  lambda: time.sleep(0.05))

    def type(self, buffer: str, text: str) -> None:
        """
        Type C{text} (a line or a C{/command}) in C{buffer}.
        """
        deadline = time.monotonic() + WAIT
        while True:
            try:
                # Non-blocking: fails at once, rather than hanging, while
                # WeeChat has not opened its end yet.
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as e:
                if e.errno not in (errno.ENOENT, errno.ENXIO) or time.monotonic() > deadline:
                    raise AssertionError(f"cannot reach WeeChat's FIFO {self.fifo}: {e}")
                if self.process.poll() is not None:
                    raise AssertionError(f"WeeChat exited with status {self.process.returncode}")
                time.sleep(0.05)
        with os.fdopen(fd, "wb") as fifo:
            fifo.write(f"{buffer} *{text}\n".encode("utf-8"))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.type("core.weechat", "/quit")
                self.process.wait(5)
            except (AssertionError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


class IrcBot:
    """
    One connection made with jaraco's C{irc} library (what Python bots
    are built on), its events kept in order for the test to look at.
    """

    def __init__(self, testCase, port: int, nick: str, **connect: object) -> None:
        try:
            import irc.client
        except ImportError:
            raise SkipTest("the irc library is not installed: pip install -e '.[test]'")
        self.reactor = irc.client.Reactor()
        self.events: list = []
        self.reactor.add_global_handler("all_events", lambda c, e: self.events.append(e), -10)
        self.connection = self.reactor.server().connect("127.0.0.1", port, nick, **connect)
        testCase.addCleanup(self.connection.close)

    def waitFor(self, type: str, match: Callable[[object], bool] = lambda e: True):
        """
        The first event of C{type} (C{welcome}, C{pubmsg}, C{nicknameinuse},
        ...) that C{match}es, waiting for it if need be.
        """
        found = lambda: next((e for e in self.events if e.type == type and match(e)), None)
        waitUntil(lambda: found() is not None,
                  lambda: "\n".join(f"{e.type} {e.source} {e.target} {e.arguments}"
                                    for e in self.events),
                  lambda: self.reactor.process_once(0.05))
        return found()
