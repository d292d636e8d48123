"""
A real C{redis-server} for tests: started by the test on a free port on
127.0.0.1 in a temporary folder, and stopped by it.

The cluster's tests run against Debian's C{redis-server} (installed by
.ci/run); without it they are skipped, not failed, on a developer's machine.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import unittest
from pathlib import Path

from tests.processes import terminate


def redisServerPath() -> str:
    """
    The redis-server to run.

    @raise unittest.SkipTest: if there is none.
    """
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if found is None:
        raise unittest.SkipTest("redis-server is not installed (apt-get install redis-server)")
    return found


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """
    A C{redis-server} process of the test's own.

    @ivar port: where it listens, on 127.0.0.1; kept across L{stop} and
        L{start}, so that a node configured with it finds it again.
    @ivar directory: its working folder (AOF and RDB files go there).
    """

    def __init__(self, testCase: unittest.TestCase, *config: str,
                 password: str | None = None, directory: Path | None = None,
                 tls: tuple[Path, Path] | None = None) -> None:
        """
        @param config: more C{redis-server} options, e.g. C{"--appendonly", "yes"}.
        @param password: what clients must log in with (C{requirepass}).
        @param tls: a certificate and its key: then it speaks TLS only.
        """
        self._binary = redisServerPath()
        self.directory = directory or Path(testCase.mktemp()).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.password = password
        self.tls = tls
        self._config = list(config)
        self.process: subprocess.Popen | None = None
        self.port = freePort()
        testCase.addCleanup(self.stop)
        self.start()

    @property
    def url(self) -> str:
        """
        The C{--cluster} URL of database 0 of this server (C{rediss:} to
        C{localhost} with TLS, without a C{ca=}).
        """
        secret = f":{self.password}@" if self.password is not None else ""
        if self.tls is not None:
            return f"rediss://{secret}localhost:{self.port}/0"
        return f"redis://{secret}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        """
        Start it (again, on the same port) and wait until it answers.
        """
        auth = ["--requirepass", self.password] if self.password is not None else []
        ports = ["--port", str(self.port)]
        if self.tls is not None:
            ports = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file",
                     str(self.tls[0]), "--tls-key-file", str(self.tls[1]),
                     "--tls-auth-clients", "no"]
        self.process = subprocess.Popen(
            [self._binary, *ports, "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "", "--daemonize", "no",
             "--logfile", str(self.directory / "redis.log"), *auth, *self._config],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(self.directory))
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.command("PING") == b"+PONG":
                    return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log")
                raise AssertionError("redis-server did not start:\n"
                                     + (log.read_text() if log.exists() else ""))
            time.sleep(0.05)

    def command(self, *words: str) -> bytes:
        """
        Send one command and return the first line of its reply.
        """
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            if self.tls is not None:
                # Only to see that it answers: the tests check the certificate.
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                s = context.wrap_socket(s)
            data = b""
            if self.password is not None:
                data += _encode(["AUTH", self.password])
            s.sendall(data + _encode(list(words)))
            reader = s.makefile("rb")
            if self.password is not None:
                reader.readline()
            return reader.readline().rstrip(b"\r\n")

    def stop(self) -> None:
        """
        Stop it (without saving) and wait until it is gone.
        """
        if self.process is not None:
            terminate(self.process)
        self.process = None

    def kill(self) -> None:
        """
        Kill it at once, as a crash would.
        """
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


def _encode(words: list[str]) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(
        b"$%d\r\n%s\r\n" % (len(w.encode()), w.encode()) for w in words)


def connect(testCase: unittest.TestCase, server: RedisServer):
    """
    A node's connection to C{server} (L{globalchat.cluster.connection.Redis}),
    stopped after the test.

    @return: a Deferred firing with it once it is available.
    """
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from globalchat.cluster.address import parseURL
    from globalchat.cluster.connection import Redis

    redis = Redis(parseURL(server.url), reactor)
    available: Deferred = Deferred()
    redis.onAvailable(lambda: available.called or available.callback(redis))
    redis.startService()
    testCase.addCleanup(redis.stopService)
    return available


class RedisStoreMixin:
    """
    For the tests every store passes: C{open()} gives a
    L{globalchat.cluster.store.RedisStore} on a redis-server of the test's
    own, empty at the start of each test.
    """

    def setUp(self):
        self.server = RedisServer(self)
        return connect(self, self.server).addCallback(lambda redis: setattr(self, "redis", redis))

    def open(self):
        from globalchat.cluster.store import RedisStore

        store = RedisStore(self.redis)
        self.assertEqual(store.load(), {})
        store.start()
        self.addCleanup(store.close)
        return store
