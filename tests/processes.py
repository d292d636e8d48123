"""
Run the real C{twistd globalchat} and C{globalchat-client} for integration
tests, on ephemeral ports on 127.0.0.1, always bounded in time.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LISTENING = re.compile(rb"listening on (\S+):(\d+) \(")
FINGERPRINT = re.compile(rb"fingerprint (SHA256:[0-9A-F:]+)")


def environment() -> dict[str, str]:
    """
    The environment for child processes: this checkout first on the path,
    so they run the code under test, installed or not.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def command(name: str, module: str) -> list[str]:
    """
    The installed script C{name} beside this Python, or its module.
    """
    script = BIN / name
    if script.exists():
        return [str(script)]
    found = shutil.which(name)
    return [found] if found else [sys.executable, "-m", module]


def twistd(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    """
    Run C{twistd} to completion (for commands that must fail at start).
    """
    return subprocess.run(
        [*command("twistd", "twisted.scripts.twistd"), *args],
        capture_output=True, env=environment(), cwd=str(ROOT), timeout=timeout,
    )


class Server:
    """
    A C{twistd -n globalchat} process.

    @ivar ports: the ports it listens on, in C{--port} order.
    @ivar output: everything it has logged so far.
    """

    def __init__(self, testCase, *args: str, dataDir: Path | None = None,
                 timeout: float = 20, prefix: list[str] = ()) -> None:
        """
        @param prefix: a command to run twistd under (e.g. C{ip netns exec}).
        """
        self.dataDir = dataDir or Path(testCase.mktemp()).resolve()
        self.output = b""
        self.process = subprocess.Popen(
            [*prefix, *command("twistd", "twisted.scripts.twistd"), "-n", "--pidfile=",
             "globalchat", "--data-dir", str(self.dataDir), *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment(),
            cwd=str(ROOT),
        )
        testCase.addCleanup(self.stop)
        expected = sum(1 for a in args if a == "--port")
        self.ports = [int(m.group(2)) for m in self.waitFor(LISTENING, expected, timeout)]

    def waitFor(self, pattern: re.Pattern, count: int = 1, timeout: float = 10) -> list[re.Match]:
        """
        Read the log until C{pattern} has matched C{count} times.
        """
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while len(list(pattern.finditer(self.output))) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None and not selector.select(0):
                    raise AssertionError(f"server never logged {pattern.pattern!r}:\n{self.output.decode()}")
                if selector.select(min(left, 0.5)):
                    chunk = os.read(self.process.stdout.fileno(), 65536)
                    if not chunk and self.process.poll() is not None:
                        continue
                    self.output += chunk
        return list(pattern.finditer(self.output))[:count]

    @property
    def fingerprint(self) -> str:
        return self.waitFor(FINGERPRINT)[0].group(1).decode()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.process.stdout.closed:
            self.output += self.process.stdout.read()
            self.process.stdout.close()


def client(*args: str, input: bytes = b"", timeout: float = 20,
           prefix: list[str] = (), config: Path | None = None,
           extraEnv: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """
    Run C{globalchat-client} with C{input} piped in.

    @param config: its configuration directory (C{XDG_CONFIG_HOME}), so
        that known_hosts is the test's own.
    """
    env = environment()
    env["XDG_CONFIG_HOME"] = str(config or Path(tempfile.mkdtemp(prefix="gc-config-")))
    env.update(extraEnv or {})
    return subprocess.run(
        [*prefix, *command("globalchat-client", "globalchat.client"), *args],
        input=input, capture_output=True, env=env, timeout=timeout,
    )


class RawClient:
    """
    A plain socket, as C{nc} would use.
    """

    def __init__(self, testCase, port: int, host: str = "127.0.0.1") -> None:
        self.socket = socket.create_connection((host, port), timeout=10)
        testCase.addCleanup(self.socket.close)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.socket.sendall(data)

    def readLine(self) -> str:
        """
        The next line, without its CRLF; fails after the socket timeout.
        """
        while b"\r\n" not in self.buffer:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed; unread: {self.buffer!r}")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8")

    def readLines(self, count: int) -> list[str]:
        return [self.readLine() for _ in range(count)]
