"""
The real client given several servers: it moves to the next when the one
it is on is killed, and passes over one that is down.
"""

import signal
import socket

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import PipedClient, RawClient, Server


def deadPort() -> int:
    """
    A port on 127.0.0.1 that nothing listens on.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FailoverTests(SynchronousTestCase):
    def setUp(self):
        self.first = Server(self, "--port", "tcp:0:interface=127.0.0.1")
        self.second = Server(self, "--port", "tcp:0:interface=127.0.0.1")
        self.bob = RawClient(self, self.second.ports[0])
        self.bob.send(b"Bob\n")
        self.bob.readLines(2)

    def servers(self, *ports):
        return ",".join(f"127.0.0.1:{port}" for port in ports)

    def test_passesOverADeadServer(self):
        """
        A server that is down is passed over without a wait.
        """
        ann = PipedClient(self, self.servers(deadPort(), self.second.ports[0]),
                          "--name", "Ann", "--timeout", "5")
        self.assertEqual(self.bob.readLine(), "JOIN #lobby Ann")
        ann.feed(["hello"], 0)
        self.assertEqual(self.bob.readLine(), "MSG #lobby <Ann> hello")
        self.assertEqual(ann.finish(), 0)

    def test_movesOnWhenKilled(self):
        """
        When the server it is on is killed, the client reconnects to the
        next one, says where, and carries on there.
        """
        ann = PipedClient(self, self.servers(*self.first.ports, *self.second.ports),
                          "--name", "Ann", "--timeout", "10")
        ann.waitFor("Hello Good morning !!!! ::: Ann")
        self.first.process.send_signal(signal.SIGKILL)
        self.first.process.wait(10)
        self.assertEqual(self.bob.readLine(), "JOIN #lobby Ann")
        ann.feed(["still here"], 0)
        self.assertEqual(self.bob.readLine(), "MSG #lobby <Ann> still here")
        self.assertEqual(ann.finish(), 0)
        self.assertIn(f"back on 127.0.0.1:{self.second.ports[0]} as Ann", ann.stderr)
