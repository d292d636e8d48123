"""
Abuse against the real server on 127.0.0.1, each test bounded in count
and time: a flood while others chat, a client that never reads while
others send megabytes, too many connections from one address.
"""

import re
import socket
import time

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import RawClient, Server


def rss(pid):
    """
    The resident memory of process C{pid}, in KiB.
    """
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])


class AbuseTests(SynchronousTestCase):
    """
    The real twistd, attacked.
    """

    def server(self, *args):
        server = Server(self, "--port", "tcp:0:interface=127.0.0.1", *args)
        return server, server.ports[0]

    def login(self, port, name):
        raw = RawClient(self, port)
        raw.send(name.encode() + b"\n")
        raw.readLines(2)
        return raw

    def test_floodWhileOthersChat(self):
        """
        A client sending 5000 lines at once is limited, then cut off; the
        others' lines still arrive.
        """
        server, port = self.server("--rate", "20/s", "--burst", "20")
        ann = self.login(port, "Ann")
        bob = self.login(port, "Bob")
        ann.readLine()
        flooder = self.login(port, "Flo")
        ann.readLine()
        bob.readLine()
        try:
            flooder.send(b"spam\n" * 5000)
        except OSError:
            pass
        ann.send(b"hello Bob\n")
        lines = []
        deadline = time.monotonic() + 10
        while "MSG #lobby <Ann> hello Bob" not in lines and time.monotonic() < deadline:
            lines.append(bob.readLine())
        self.assertIn("MSG #lobby <Ann> hello Bob", lines)
        # At most the burst (and what the rate refilled) got through.
        self.assertLess(lines.count("MSG #lobby <Flo> spam"), 40)
        received = b""
        while time.monotonic() < deadline:
            chunk = flooder.socket.recv(65536)
            if not chunk:
                break
            received += chunk
        self.assertIn(b"ERROR flooding: disconnected", received)
        server.waitFor(re.compile(rb"cut off for flooding"))

    def test_readerThatNeverReads(self):
        """
        While others send megabytes, a client that never reads is dropped
        after its send buffer, and the server's memory stays bounded.
        """
        server, port = self.server("--rate", "100000/s", "--burst", "100000",
                                   "--max-send-buffer", "262144")
        slow = RawClient(self, port)
        slow.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send(b"Slow\n")
        sender = self.login(port, "Fast")
        before = rss(server.process.pid)
        line = b"y" * 1000 + b"\n"
        for _ in range(4):
            sender.send(line * 1000)          # about 4 MB in all
            for _ in range(1000):
                sender.readLine()
        server.waitFor(re.compile(rb"dropped: it stopped reading"), timeout=10)
        growth = rss(server.process.pid) - before
        self.assertLess(growth, 32 * 1024, f"server grew by {growth} KiB")

    def test_tooManyFromOneAddress(self):
        """
        Connections over --max-per-ip get one error line and are closed.
        """
        _, port = self.server("--max-per-ip", "3")
        for _ in range(3):
            RawClient(self, port)
        extra = RawClient(self, port)
        self.assertEqual(extra.readLine(), "ERROR too many connections from your address (max 3)")
        self.assertEqual(extra.socket.recv(100), b"")
