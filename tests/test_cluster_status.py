"""
Tests for L{globalchat.cluster.status}, C{globalchat-doctor --cluster}:
the nodes of a cluster as a real redis-server holds them (written here as
the nodes write them, L{globalchat.cluster.keys}), and Redis's persistence.
"""

import subprocess

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase

from globalchat.cluster import keys
from globalchat.cluster.status import clusterChecks, connectAndCheck
from globalchat.localchecks import OK, PROBLEM
from tests.processes import command, environment
from tests.redisserver import RedisServer, connect, freePort

NOW = 1_800_000_000.0


async def beat(redis, nodeId, clients, age, alive=True):
    """
    Write what the node C{nodeId} writes at its heartbeats, C{age}
    seconds before L{NOW}; a dead node's hash has expired.
    """
    await redis.execute("ZADD", keys.NODES, repr(NOW - age), nodeId)
    if alive:
        await redis.execute("HSET", keys.node(nodeId), "host", "chat1", "pid", "4242",
                            "started", repr(NOW - 7200), "clients", str(clients),
                            "beat", repr(NOW - age))


class ClusterChecksTests(TestCase):
    """
    What the doctor says of a cluster.
    """

    async def checks(self, *settings):
        self.server = RedisServer(self, *settings)
        self.redis = await connect(self, self.server)
        return self.redis

    def test_nodes(self):
        """
        Each live node shows its host, clients and heartbeat age; a node
        whose heartbeats stopped is a problem, with what it means.
        """
        async def go():
            redis = await self.checks("--appendonly", "yes", "--appendfsync", "always")
            await beat(redis, "n1", 42, 0.8)
            await beat(redis, "n2", 0, 30.0, alive=False)
            found = {c.name: c for c in await clusterChecks(redis, "redis://here/0", NOW)}
            self.assertEqual(found["node n1"].status, OK)
            self.assertEqual(found["node n1"].detail, "on chat1 (pid 4242): 42 clients, last "
                                                      "heartbeat 0.8 s ago, up 2.0 h")
            self.assertEqual(found["node n2"].status, PROBLEM)
            self.assertIn("no heartbeat for 30.0 s", found["node n2"].detail)
            self.assertEqual(found["persistence"].status, OK)
            self.assertIn("appendfsync always", found["persistence"].detail)
            self.assertEqual(found["kept"].detail, "0 messages, 0 rooms in use, 0 accounts")
        return ensureDeferred(go())

    def test_noPersistence(self):
        """
        A Redis that would lose confirmed lines in a crash is a problem,
        with the settings that fix it; so is a cluster no node has joined.
        """
        async def go():
            redis = await self.checks()
            found = {c.name: c for c in await clusterChecks(redis, "redis://here/0", NOW)}
            self.assertEqual(found["persistence"].status, PROBLEM)
            self.assertIn("appendonly yes", found["persistence"].fix)
            self.assertEqual(found["nodes"].status, PROBLEM)
        return ensureDeferred(go())

    def test_unreachable(self):
        """
        A Redis that is not there is one problem saying so, without the
        password.
        """
        async def go():
            port = freePort()
            [check] = await connectAndCheck(reactor, f"redis://:hunter2@127.0.0.1:{port}/0")
            self.assertEqual(check.status, PROBLEM)
            self.assertIn(f"cannot reach Redis at redis://127.0.0.1:{port}/0", check.detail)
            self.assertNotIn("hunter2", check.detail)
        return ensureDeferred(go())


class DoctorCommandTests(TestCase):
    """
    C{globalchat-doctor --cluster URL} as an operator runs it.
    """

    def test_report(self):
        """
        It prints a line per node and exits 1 when something is wrong (here:
        no persistence), without ever printing the password.
        """
        server = RedisServer(self, password="s3cret")
        server.command("ZADD", keys.NODES, "1", "n1")
        done = subprocess.run([*command("globalchat-doctor", "globalchat.doctor"), "--cluster",
                               server.url], capture_output=True, env=environment(), timeout=60)
        out = done.stdout.decode()
        self.assertEqual(done.returncode, 1, out + done.stderr.decode())
        self.assertIn(f"redis: redis://127.0.0.1:{server.port}/0: Redis ", out)
        self.assertIn("problem  node n1: dead", out)
        self.assertIn("problem  persistence: appendonly is off", out)
        self.assertNotIn("s3cret", out)
