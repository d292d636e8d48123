"""
History under faults, with the real server and clients on 127.0.0.1: a
server killed mid-stream and started again, connections cut by a proxy,
and a history file the server must not touch.

Two pipe-mode clients stream messages at a steady pace while the fault
happens; each must end up having seen every message of both exactly
once, in id order, and a fresh client must find all of them in the
history.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Callable

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import (
    ROOT,
    PipedClient,
    Server,
    TCPProxy,
    client,
    command,
    environment,
    honouringPermissions,
)

#: Messages each client sends, and the pause between two.
COUNT = 200
PACE = 0.01
#: Let the streams and the re-sent backlog through the rate limit.
UNLIMITED = ("--rate", "5000/s", "--burst", "5000")
#: A stored message in --raw output: its id and the message line, live or
#: shown again from history.
STORED = re.compile(r"^@(?:\S*;)?id=(\d+)(?:;\S*)? (?:HIST \S+ )?(.*)$")


def storedMessages(output: str) -> list[tuple[int, str]]:
    """
    The stored messages in a client's --raw output, in the order shown.
    """
    return [(int(m.group(1)), m.group(2))
            for m in map(STORED.match, output.splitlines()) if m]


def said(name: str) -> list[str]:
    """
    What the client called C{name} says.
    """
    return [f"{name} says {i}" for i in range(COUNT)]


def shown(name: str, text: str) -> str:
    """
    How a line C{name} said in the lobby comes back.
    """
    return f"MSG #lobby <{name}> {text}"


class StreamTestCase(SynchronousTestCase):
    """
    Ann and Bob stream messages into the lobby while something breaks.
    """

    def startServer(self, port: int = 0, dataDir: Path | None = None) -> Server:
        return Server(self, "--port", f"tcp:{port}:interface=127.0.0.1", *UNLIMITED,
                      dataDir=dataDir)

    def startChatters(self, annPort: int, bobPort: int) -> tuple[PipedClient, PipedClient]:
        """
        Log Ann and Bob in, and wait until each can hear the other.
        """
        ann = PipedClient(self, "127.0.0.1", str(annPort), "--name", "Ann", "--raw",
                          "--timeout", "15")
        ann.waitFor("JOIN #lobby Ann")
        bob = PipedClient(self, "127.0.0.1", str(bobPort), "--name", "Bob", "--raw",
                          "--timeout", "15")
        ann.waitFor("JOIN #lobby Bob")
        return ann, bob

    def stream(self, ann: PipedClient, bob: PipedClient, fault: Callable[[], object]) -> set[str]:
        """
        Let both stream, call C{fault} a third of the way through Ann's
        stream, and check the outcome once both are done.

        @return: every message said.
        """
        writers = [ann.feed(said("Ann"), PACE), bob.feed(said("Bob"), PACE)]
        ann.waitFor(shown("Ann", f"Ann says {COUNT // 3}"))
        fault()
        for writer in writers:
            writer.join(30)
        everything = {shown(name, text) for name in ("Ann", "Bob") for text in said(name)}
        for chatter in (ann, bob):
            for name in ("Ann", "Bob"):
                chatter.waitFor(shown(name, f"{name} says {COUNT - 1}"), timeout=20)
            self.assertEqual(chatter.finish(), 0, chatter.stderr)
            self.assertSeenOnce(chatter.stdout, everything)
        return everything

    def assertSeenOnce(self, output: str, expected: set[str]) -> None:
        """
        Every expected message is shown exactly once, in strictly
        increasing id order, and nothing else stored is.
        """
        messages = storedMessages(output)
        ids = [messageId for messageId, _ in messages]
        self.assertEqual(ids, sorted(set(ids)), "ids not strictly increasing")
        texts = [text for _, text in messages]
        self.assertEqual(len(texts), len(set(texts)), "a message shown twice")
        self.assertEqual(set(texts), expected)

    def assertInHistory(self, port: int, expected: set[str]) -> None:
        """
        A fresh client's /history has every expected message, once, in id
        order.
        """
        result = client("127.0.0.1", str(port), "--name", "Cy", "--raw",
                        input=f"/history lobby {len(expected)}\n".encode())
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.decode().splitlines()
        # The backlog shown at login comes first: the answer is what follows
        # the last line of the login.
        answer = "\n".join(lines[-len(expected) - 1:])
        self.assertEqual(lines[-1], "OK /history")
        self.assertSeenOnce(answer, expected)


class ServerRestartTests(StreamTestCase):
    """
    The server dies without warning and comes back.
    """

    def test_killedMidStream(self):
        """
        A server killed with SIGKILL mid-stream and started again on the
        same port and data directory loses no acknowledged message, and
        its clients resume: each sees every message once, in order.
        """
        first = self.startServer()
        port, dataDir = first.ports[0], first.dataDir
        ann, bob = self.startChatters(port, port)

        def restart():
            first.process.kill()
            first.process.wait()
            self.startServer(port, dataDir)

        everything = self.stream(ann, bob, restart)
        self.assertIn("* reconnecting to", ann.stderr)
        self.assertIn("* back on", ann.stderr)
        self.assertInHistory(port, everything)


class DroppedConnectionTests(StreamTestCase):
    """
    The network between a client and the server breaks.
    """

    def setUp(self):
        self.server = self.startServer()
        self.port = self.server.ports[0]
        self.proxy = TCPProxy(self, self.port)

    def test_cutBothWays(self):
        """
        A connection reset mid-stream is resumed without losses or
        duplicates.
        """
        ann, bob = self.startChatters(self.proxy.port, self.port)
        everything = self.stream(ann, bob, self.proxy.cut)
        self.assertIn("* back on", ann.stderr)
        self.assertInHistory(self.port, everything)

    def test_serverStillHoldsName(self):
        """
        When the server has not noticed yet that the old connection died,
        the name is still taken: the client keeps asking until it is free,
        then resumes without losses or duplicates.
        """
        ann, bob = self.startChatters(self.proxy.port, self.port)
        everything = self.stream(ann, bob, lambda: self.proxy.cut(holdServerSide=2))
        self.assertIn("still holds the name Ann", ann.stderr)
        self.assertInHistory(self.port, everything)


class BadHistoryFileTests(SynchronousTestCase):
    """
    A history file the server cannot use stops it at start, with one clear
    line, and is left exactly as it was.
    """

    def assertRefused(self, history: Path, prefix: list[str] = ()) -> None:
        before = history.read_bytes()
        result = subprocess.run(
            [*prefix, *command("twistd", "twisted.scripts.twistd"), "-n", "--pidfile=",
             "globalchat", "--data-dir", str(history.parent),
             "--port", "tcp:0:interface=127.0.0.1"],
            capture_output=True, env=environment(), cwd=str(ROOT), timeout=30,
        )
        output = (result.stdout + result.stderr).decode()
        self.assertNotEqual(result.returncode, 0, output)
        self.assertNotIn("Traceback", output)
        self.assertEqual(len([line for line in output.splitlines() if str(history) in line]), 1,
                         output)
        self.assertNotIn("listening on", output)
        self.assertEqual(history.read_bytes(), before)

    def historyFile(self, content: bytes) -> Path:
        dataDir = Path(self.mktemp()).resolve()
        dataDir.mkdir()
        history = dataDir / "history.sqlite3"
        history.write_bytes(content)
        return history

    def test_corrupt(self):
        """
        A file that is not a database.
        """
        self.assertRefused(self.historyFile(b"not a database, but someone's notes\n" * 200))

    def test_readOnly(self):
        """
        A history the server may read but not write.
        """
        server = Server(self, "--port", "tcp:0:interface=127.0.0.1")
        said = client("127.0.0.1", str(server.ports[0]), "--name", "Ann", input=b"remember this\n")
        self.assertEqual(said.returncode, 0, said.stderr)
        server.stop()
        history = server.dataDir / "history.sqlite3"
        history.chmod(0o444)
        self.addCleanup(history.chmod, 0o644)
        self.assertRefused(history, honouringPermissions())
