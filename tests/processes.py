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
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
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


def terminate(process: subprocess.Popen) -> None:
    """
    Stop C{process} as an operator would (SIGTERM, so it can clean up), and
    kill it if it has not gone within ten seconds, so no test leaves it behind.
    """
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
        terminate(self.process)
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


def untagged(output: bytes) -> list[str]:
    """
    The lines of C{globalchat-client --raw} output without their tags,
    whose client ids change from run to run.
    """
    return [re.sub(r"^@\S+ ", "", line) for line in output.decode().splitlines()]


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


class PipedClient:
    """
    A C{globalchat-client} whose input the test writes while it runs, at
    its own pace, and whose output is collected as it comes.
    """

    def __init__(self, testCase, *args: str) -> None:
        env = environment()
        env["XDG_CONFIG_HOME"] = str(Path(testCase.mktemp()).resolve())
        self.process = subprocess.Popen(
            [*command("globalchat-client", "globalchat.client"), *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        testCase.addCleanup(self._kill)
        self._changed = threading.Condition()
        self._output = {"stdout": b"", "stderr": b""}
        self._readers = [
            threading.Thread(target=self._collect, args=(name, getattr(self.process, name)),
                             daemon=True)
            for name in self._output
        ]
        for reader in self._readers:
            reader.start()

    def _collect(self, name: str, stream) -> None:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            with self._changed:
                self._output[name] += chunk
                self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return self._output["stdout"].decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        with self._changed:
            return self._output["stderr"].decode("utf-8", "replace")

    def waitFor(self, text: str, timeout: float = 10) -> None:
        """
        Wait until C{text} has been printed on standard output.
        """
        with self._changed:
            if not self._changed.wait_for(lambda: text.encode() in self._output["stdout"], timeout):
                raise AssertionError(f"client never printed {text!r}:\n{self.stdout}\n{self.stderr}")

    def feed(self, lines: list[str], pace: float) -> threading.Thread:
        """
        Write C{lines}, one every C{pace} seconds, from a thread of its own.
        """
        def write() -> None:
            for line in lines:
                self.process.stdin.write(line.encode("utf-8") + b"\n")
                self.process.stdin.flush()
                time.sleep(pace)

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        return writer

    def finish(self, timeout: float = 20) -> int:
        """
        End the input and return the exit status once the client is done.
        """
        self.process.stdin.close()
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def _kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if not self.process.stdin.closed:
            self.process.stdin.close()


class TCPProxy:
    """
    A relay on 127.0.0.1 to a server's port, whose connections a test can
    break as a failing network would.
    """

    def __init__(self, testCase, port: int) -> None:
        self._target = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._wake, self._waker = socket.socketpair()
        self._cuts: list[tuple[float, threading.Event]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()
        testCase.addCleanup(self.close)

    def cut(self, holdServerSide: float = 0) -> None:
        """
        Break every connection now: the client gets a reset; the server's
        side stays open, silent, for C{holdServerSide} seconds, as when
        the path between them died without a word.
        """
        done = threading.Event()
        with self._lock:
            self._cuts.append((holdServerSide, done))
        self._waker.send(b"x")
        if not done.wait(10):
            raise AssertionError("the proxy did not cut its connections")

    def close(self) -> None:
        self._closed = True
        self._waker.send(b"x")
        self._thread.join(10)
        for sock in (self._listener, self._wake, self._waker):
            sock.close()

    def _relay(self) -> None:
        peers: dict[socket.socket, socket.socket] = {}
        clients: set[socket.socket] = set()
        held: dict[socket.socket, float] = {}
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake, selectors.EVENT_READ)
            while not self._closed:
                timeout = max(0, min(held.values()) - time.monotonic()) if held else None
                for key, _ in selector.select(timeout):
                    sock = key.fileobj
                    if sock is self._listener:
                        client, _ = self._listener.accept()
                        server = socket.create_connection(("127.0.0.1", self._target))
                        peers[client], peers[server] = server, client
                        clients.add(client)
                        selector.register(client, selectors.EVENT_READ)
                        selector.register(server, selectors.EVENT_READ)
                    elif sock is self._wake:
                        sock.recv(4096)
                        self._cutAll(selector, peers, clients, held)
                    elif sock in held:
                        if not sock.recv(65536):
                            selector.unregister(sock)
                            sock.close()
                            del held[sock]
                    elif sock in peers:
                        data = sock.recv(65536)
                        other = peers[sock]
                        if data:
                            other.sendall(data)
                        else:
                            for end in (sock, other):
                                selector.unregister(end)
                                end.close()
                                del peers[end]
                                clients.discard(end)
                for sock, until in list(held.items()):
                    if until <= time.monotonic():
                        selector.unregister(sock)
                        sock.close()
                        del held[sock]
            for sock in [*peers, *held]:
                sock.close()

    def _cutAll(self, selector, peers: dict, clients: set, held: dict) -> None:
        with self._lock:
            cuts, self._cuts = self._cuts, []
        for hold, done in cuts:
            for client in list(clients):
                clients.remove(client)
                server = peers.pop(client)
                del peers[server]
                selector.unregister(client)
                # Closing with a zero linger sends a reset.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                held[server] = time.monotonic() + hold
            done.set()


def honouringPermissions() -> list[str]:
    """
    A command prefix under which a child cannot write a read-only file
    even when the tests run as root: it runs without the capabilities
    that override file permissions.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise unittest.SkipTest("running as root without setpriv to drop capabilities")
    return [setpriv, "--bounding-set=-dac_override,-fowner"]
