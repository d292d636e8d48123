"""
An irctest controller for C{twistd globalchat --irc}: irctest (the IRC
conformance suite that Ergo, InspIRCd and ngIRCd are tested with) starts
the server it tests through a class like this one, once per test.

This module runs inside irctest's own virtual environment (see
C{bench/irctest.sh}), so it imports only irctest and the standard
library; the server is started from globalchat's environment, whose
scripts are in C{$GLOBALCHAT_BIN} (default: C{.venv/bin} of this
checkout).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, Optional, Set, Tuple, Type

from irctest.basecontrollers import BaseServerController, DirectoryBasedController
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("GLOBALCHAT_BIN", ROOT / ".venv" / "bin"))

#: The account irctest's operator tests log in with (C{OPER operuser operpassword}).
OPERATOR = ("operuser", "operpassword")


class LoopbackPorts:
    """
    Servers under test listen on 127.0.0.1 only: irctest's own choice of
    address is every interface (C{0.0.0.0}), which would put a test server
    with known passwords on the network.  With several pytest-xdist
    workers, irctest's own lock on its record of ports did not keep them
    apart (the record was read empty, and a port it held went missing).
    """

    @contextlib.contextmanager
    def _used_ports(self) -> Iterator[Set[Tuple[str, int]]]:
        """
        irctest's record of the ports its servers were given, shared by
        its pytest-xdist workers, under a lock of the kernel's own
        (C{flock} on a file that is never removed) and replaced whole.
        """
        with open(f"{self._used_ports_path}.flock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                used = {(h, p) for h, p in json.loads(self._used_ports_path.read_text())}
            except (FileNotFoundError, ValueError):
                used = set()
            yield used
            scratch = self._used_ports_path.with_name(f"{self._used_ports_path.name}.{os.getpid()}")
            scratch.write_text(json.dumps(sorted(used)))
            os.replace(scratch, self._used_ports_path)

    def get_hostname_and_port(self) -> Tuple[str, int]:
        with self._used_ports() as used:
            while True:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    found = s.getsockname()
                if found not in used:
                    break
            used.add(found)
            self._own_ports.add(found)
        return found


#: How globalchat refuses a password under its minimum length.
SHORT_PASSWORD = "a password needs at least"


class Refused(RuntimeError):
    """
    globalchat answered a line with C{ERROR}.

    @ivar line: that answer.
    """

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def lineCommand(host: str, port: int, lines: list[str], until: bytes,
                timeout: float = 10.0) -> bytes:
    """
    Say C{lines} on globalchat's line port and read until C{until} (or an
    C{ERROR} line) arrives: how the controller registers accounts, with
    the protocol a user of the line port would use.

    @raise Refused: on an C{ERROR} answer.
    @raise RuntimeError: on a time-out.
    """
    deadline = time.monotonic() + timeout
    received = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall("".join(line + "\n" for line in lines).encode("utf-8"))
        while until not in received:
            refused = re.search(rb"^ERROR .*", received, re.M)
            if refused:
                raise Refused(refused.group().decode("utf-8", "replace").rstrip("\r"))
            if time.monotonic() > deadline:
                raise RuntimeError(f"globalchat answered {received!r} to {lines[1:]!r}")
            s.settimeout(max(0.1, deadline - time.monotonic()))
            chunk = s.recv(4096)
            if not chunk:
                raise RuntimeError(f"globalchat closed after {received!r}")
            received += chunk
    return received


class GlobalchatController(LoopbackPorts, BaseServerController, DirectoryBasedController):
    """
    Accounts are part of globalchat (no services to start): tests marked
    C{services} register theirs over the line port, like a user would.
    """

    software_name = "globalchat"
    supported_sasl_mechanisms = {"PLAIN"}
    supports_sts = False
    #: What globalchat says it supports: a test whose request for one of
    #: these is refused fails instead of being skipped.
    capabilities = frozenset({
        Capabilities.ACCOUNT_NOTIFY, Capabilities.ACCOUNT_TAG, Capabilities.AWAY_NOTIFY,
        Capabilities.BATCH, Capabilities.ECHO_MESSAGE, Capabilities.EXTENDED_JOIN,
        Capabilities.LABELED_RESPONSE, Capabilities.MESSAGE_TAGS, Capabilities.MULTI_PREFIX,
        Capabilities.SERVER_TIME,
    })
    #: The ISUPPORT tokens whose values the issue asks to tell the truth
    #: about, as docs/irc.md gives them; irctest checks the server's 005.
    isupport = {"CASEMAPPING": "rfc8265", "CHANTYPES": "#", "PREFIX": "(ov)@+",
                "UTF8ONLY": None}

    def run(self, hostname: str, port: int, *, password: Optional[str], ssl: bool,
            run_services: bool, faketime: Optional[str],
            websocket_hostname: Optional[str], websocket_port: Optional[int]) -> None:
        if websocket_hostname is not None or websocket_port is not None:
            raise NotImplementedByController("Websocket")
        assert self.proc is None
        self.hostname, self.port = hostname, port
        self.create_config()
        assert self.directory is not None
        self.linePort = self.get_hostname_and_port()[1]
        irc = f"tcp:{port}:interface={hostname}"
        if ssl:
            self.gen_ssl()
            irc = f"ssl:{port}:interface={hostname}:privateKey={self.key_path}:certKey={self.pem_path}"
        with self.open_file("motd.txt") as f:
            f.write("globalchat under irctest\n")
        with self.open_file("operators.txt") as f:
            f.write(OPERATOR[0] + "\n")
        options = [
            "--data-dir", str(self.directory / "data"),
            "--port", f"tcp:{self.linePort}:interface={hostname}",
            "--irc", irc,
            # The name every irctest controller gives its server, which
            # the tests expect in numerics and PONG.
            "--irc-name", "My.Little.Server",
            "--motd", str(self.directory / "motd.txt"),
            "--operators", str(self.directory / "operators.txt"),
            # irctest connects many clients from 127.0.0.1 and sends without
            # pause, and some tests try wrong passwords on purpose: limits
            # meant for the open internet would refuse it mid-test.
            "--rate", "1000/s", "--burst", "1000", "--connect-rate", "1000/s",
            "--max-per-ip", "1000", "--ban-time", "1", "--no-login-throttle",
        ]
        if password is not None:
            passwordFile = self.directory / "password"
            subprocess.run([str(BIN / "globalchat-passwd"), str(passwordFile)],
                           input=password.encode() + b"\n", check=True, timeout=30)
            options += ["--password-file", str(passwordFile)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = self.execute(
            [str(BIN / "twistd"), "-n", "--pidfile=", "globalchat", *options],
            cwd=str(ROOT), env=env)
        _started.append(self.proc)
        try:
            self.wait_for_port()
            if password is None:
                self._register(*OPERATOR)
        except BaseException:
            # setUp failed: irctest's tearDown will not run to stop it.
            self.kill()
            raise

    def wait_for_services(self) -> None:
        pass

    def _register(self, name: str, password: str) -> None:
        lineCommand(self.hostname, self.linePort, [name, f"/register {password}"],
                    until=b"is your account now")

    def registerUser(self, case, username: str, password: Optional[str] = None) -> None:
        if password is None:
            raise NotImplementedByController("account registration without a password")
        try:
            self._register(username, password)
        except Refused as e:
            if SHORT_PASSWORD not in e.line:
                raise
            # irctest's accounts have 6-letter passwords ("sesame").
            raise NotImplementedByController(f"account passwords this short ({e.line})")


#: Every server started, so that none outlives the run: runs in which
#: tests failed were seen leaving a server of each failed test behind.
_started: list[subprocess.Popen] = []


@atexit.register
def _stopAll() -> None:
    for process in _started:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                pass


def get_irctest_controller_class() -> Type[GlobalchatController]:
    return GlobalchatController
