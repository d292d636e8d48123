"""
Real C{twistd globalchat --cluster} nodes on 127.0.0.1 sharing one real
redis-server: chat across nodes, a name taken on another node, a node
killed, Redis going away, and Redis missing at start-up.
"""

import re
import signal
import time

from twisted.trial.unittest import SynchronousTestCase

from globalchat.cluster import keys
from tests.processes import PipedClient, RawClient, Server, twistd
from tests.redisserver import RedisServer, freePort

LISTEN = "tcp:0:interface=127.0.0.1"
REFUSAL = ("ERROR this server has lost touch with the rest of the chat for a moment; "
           "nothing was done: try again shortly")


def login(testCase, port, name):
    """
    A raw client logged in as C{name}, past its greeting and its own JOIN.
    """
    client = RawClient(testCase, port)
    client.send(name.encode() + b"\n")
    client.readLines(2)
    return client


class TwoNodesTests(SynchronousTestCase):
    def setUp(self):
        self.redis = RedisServer(self, password="s3cret-pw")
        self.one = Server(self, "--port", LISTEN, "--cluster", self.redis.url)
        self.two = Server(self, "--port", LISTEN, "--cluster", self.redis.url)

    def test_chatAcrossNodes(self):
        """
        A user on each node sees the other arrive, and what they say in a
        room and privately; /who lists both; the password is never logged.
        """
        ann = login(self, self.one.ports[0], "Ann")
        bob = login(self, self.two.ports[0], "Bob")
        self.assertEqual(ann.readLine(), "JOIN #lobby Bob")
        ann.send(b"hello\n/msg bob psst\n")
        self.assertEqual(bob.readLines(2), ["MSG #lobby <Ann> hello", "PRIV <Ann> @Bob psst"])
        self.assertEqual(ann.readLines(2), ["MSG #lobby <Ann> hello", "PRIV <Ann> @Bob psst"])
        bob.send(b"/who\nhi Ann\n")
        self.assertEqual(bob.readLines(3), ["WHO #lobby Ann Bob", "OK /who", "MSG #lobby <Bob> hi Ann"])
        self.assertEqual(ann.readLine(), "MSG #lobby <Bob> hi Ann")
        for server in (self.one, self.two):
            server.stop()
            self.assertNotIn(b"s3cret-pw", server.output)

    def test_nameTakenOnAnotherNode(self):
        """
        A name held on one node is refused, in any case, on the other.
        """
        login(self, self.one.ports[0], "Ann")
        other = RawClient(self, self.two.ports[0])
        other.send(b"aNN\n")
        self.assertEqual(other.readLine(), "ERROR the name aNN is taken, choose another")


class ThreeNodesTests(SynchronousTestCase):
    def test_oneLineEveryNode(self):
        """
        A line said on one of three nodes reaches the users of both others
        once; a private message finds its recipient's node.
        """
        redis = RedisServer(self)
        nodes = [Server(self, "--port", LISTEN, "--cluster", redis.url) for _ in range(3)]
        ann, bob, cy = (login(self, node.ports[0], name)
                        for node, name in zip(nodes, ["Ann", "Bob", "Cy"]))
        self.assertEqual(ann.readLines(2), ["JOIN #lobby Bob", "JOIN #lobby Cy"])
        self.assertEqual(bob.readLine(), "JOIN #lobby Cy")
        cy.send(b"hi all\n/msg ann just you\n")
        self.assertEqual(cy.readLines(2), ["MSG #lobby <Cy> hi all", "PRIV <Cy> @Ann just you"])
        self.assertEqual(ann.readLines(2), ["MSG #lobby <Cy> hi all", "PRIV <Cy> @Ann just you"])
        bob.send(b"/who\n")
        self.assertEqual(bob.readLines(3), ["MSG #lobby <Cy> hi all", "WHO #lobby Ann Bob Cy",
                                            "OK /who"])


class FailureTests(SynchronousTestCase):
    def test_nodeKilled(self):
        """
        A node is killed: its client reconnects to the other node and
        resumes there with every line said meanwhile, once; the name is
        free again within the heartbeat expiry.
        """
        redis = RedisServer(self)
        one = Server(self, "--port", LISTEN, "--cluster", redis.url)
        two = Server(self, "--port", LISTEN, "--cluster", redis.url)
        servers = f"127.0.0.1:{one.ports[0]},127.0.0.1:{two.ports[0]}"
        ann = PipedClient(self, servers, "--name", "Ann", "--timeout", "30")
        ann.waitFor("Hello Good morning !!!! ::: Ann")
        bob = login(self, two.ports[0], "Bob")
        bob.socket.settimeout(30)
        ann.waitFor("#lobby Bob joined")
        bob.send(b"before\n")
        self.assertEqual(bob.readLine(), "MSG #lobby <Bob> before")
        ann.waitFor("<Bob> before")
        one.process.send_signal(signal.SIGKILL)
        one.process.wait(10)
        killed = time.monotonic()
        bob.send(b"during 1\nduring 2\n")
        self.assertEqual(bob.readLines(2), ["MSG #lobby <Bob> during 1", "MSG #lobby <Bob> during 2"])
        self.assertEqual(bob.readLine(), "QUIT Ann its server went away")
        freed = time.monotonic() - killed
        self.assertLess(freed, keys.HEARTBEAT_EXPIRY + 2 * keys.HEARTBEAT_INTERVAL + 2)
        self.assertEqual(bob.readLine(), "JOIN #lobby Ann")
        ann.waitFor("<Bob> during 2")
        bob.send(b"after\n")
        ann.waitFor("<Bob> after")
        self.assertEqual(ann.finish(), 0)
        for line in ("before", "during 1", "during 2", "after"):
            self.assertEqual(ann.stdout.count(f"<Bob> {line}\n"), 1, ann.stdout)
        self.assertIn(f"back on 127.0.0.1:{two.ports[0]} as Ann", ann.stderr)

    def test_redisGoesAway(self):
        """
        Redis stops: the clients stay connected, each line is answered with
        an ERROR, the outage is logged once; once Redis is back, chat
        carries on.
        """
        redis = RedisServer(self)
        node = Server(self, "--port", LISTEN, "--cluster", redis.url)
        ann = login(self, node.ports[0], "Ann")
        redis.stop()
        node.waitFor(re.compile(rb"lost Redis at redis://127\.0\.0\.1:\d+/0"))
        ann.send(b"one\ntwo\n/join tea\n")
        self.assertEqual(ann.readLines(3), [REFUSAL] * 3)
        redis.start()
        node.waitFor(re.compile(rb"Redis at \S+ is back after"), timeout=20)
        ann.send(b"again\n")
        self.assertEqual(ann.readLine(), "MSG #lobby <Ann> again")
        node.stop()
        self.assertEqual(node.output.count(b"lost Redis"), 1, node.output.decode())
        self.assertEqual(node.output.count(b"is back after"), 1)

    def test_noRedisAtStart(self):
        """
        A node that cannot reach Redis at start-up exits with one line,
        without the password.
        """
        port = freePort()
        result = twistd("-n", "--pidfile=", "globalchat", "--port", LISTEN,
                        "--cluster", f"redis://:hunter2@127.0.0.1:{port}/0")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.decode().splitlines(), [
            f"globalchat: cannot reach Redis at redis://127.0.0.1:{port}/0: Connection refused "
            "(is redis-server running there? start it, or correct --cluster)"])
        self.assertNotIn(b"hunter2", result.stdout + result.stderr)

    def test_badClusterURL(self):
        """
        A --cluster that is not a Redis URL is one line too.
        """
        result = twistd("-n", "--pidfile=", "globalchat", "--port", LISTEN,
                        "--cluster", "http://:hunter2@127.0.0.1/0")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr.decode().splitlines(), [
            "globalchat: bad --cluster URL: it should start with redis:// (or rediss:// for "
            "TLS), like redis://127.0.0.1:6379/0"])
