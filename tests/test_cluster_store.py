"""
Tests for what only the cluster's store (L{globalchat.cluster.store}) does,
on a real redis-server: several nodes sharing one history, Redis forgetting
its scripts, pruning in slices, and lines confirmed before a Redis crash
being there after it.  What every store does is tested in
L{tests.test_store} and L{tests.test_store_accounts}, on this store too.
"""

import time

from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase

from globalchat.cluster import keys, store as storeModule
from globalchat.cluster.store import RedisStore
from globalchat.store.interface import Known
from tests.redisserver import RedisServer, connect
from tests.test_store import draft, one


class ClusterStoreTests(TestCase):
    """
    Two nodes, each with its own connection, on one Redis.
    """

    async def nodes(self, count=2):
        self.server = RedisServer(self)
        stores = []
        for _ in range(count):
            store = RedisStore(await connect(self, self.server))
            store.start()
            stores.append(store)
        return stores

    def test_oneHistoryForAllNodes(self):
        """
        Ids increase across nodes, and each node reads what the others
        stored: history, what a resuming client missed, kept private
        messages.
        """
        async def go():
            a, b = await self.nodes()
            first, _ = await one(a, draft("from a"))
            second, _ = await one(b, draft("from b"))
            private, _ = await one(a, draft("psst", room=None, recipient="bob"))
            await a.queue("bob", private.id)
            self.assertLess(first.id, second.id)
            self.assertEqual([m.text for m in await b.history("lobby", 5)], ["from a", "from b"])
            self.assertEqual([m.text for m in await b.missed("bob", ["lobby"], first.id, 10)],
                             ["from b", "psst"])
            self.assertEqual([m.text for m in await b.takePending("bob")], ["psst"])
            self.assertEqual(await a.takePending("bob"), [])
        return ensureDeferred(go())

    def test_resentToAnotherNode(self):
        """
        A line re-sent to another node, after the first stored it and
        died before answering, is not stored twice.
        """
        async def go():
            a, b = await self.nodes()
            stored, _ = await one(a, draft("once", clientId="c1"))
            again, duplicate = await one(b, draft("once", clientId="c1"))
            self.assertEqual((again, duplicate), (stored, True))
            self.assertEqual(len(await b.history("lobby", 5)), 1)
        return ensureDeferred(go())

    def test_largeBatch(self):
        """
        A batch of thousands of messages (more than a script may pass to one
        command) is stored whole, in order, and sent again is found whole.
        """
        async def go():
            a, = await self.nodes(1)
            drafts = [draft(f"m{i}", clientId=f"c{i}") for i in range(2500)]
            first = await a.append(drafts)
            start = first[0][0].id
            self.assertEqual([m.id for m, _ in first], list(range(start, start + 2500)))
            self.assertEqual(len(await a.history("lobby", 5000)), 2500)
            again = await a.append(drafts)
            self.assertEqual(again, [(m, True) for m, _ in first])
            self.assertEqual(a.rows, 2500)
        return ensureDeferred(go())

    def test_idsAfterRedisLostEverything(self):
        """
        Ids start from the time (in microseconds), so that a Redis that
        lost its data (restarted without persistence) gives ids above every
        id given before it, which clients may still hold.
        """
        async def go():
            a, = await self.nodes(1)
            before = time.time() * 1e6
            first, _ = await one(a, draft("first"))
            self.assertGreaterEqual(first.id, before)
            self.assertLess(first.id, 2**53)
            await a._redis.execute("FLUSHALL")
            again, _ = await one(a, draft("again"))
            self.assertGreater(again.id, first.id)
            self.assertEqual([m.id for m in await a.history("lobby", 5)], [again.id])
        return ensureDeferred(go())

    def test_knownOnEveryNode(self):
        """
        A name that left one node is known, with its rooms, to the others.
        """
        async def go():
            a, b = await self.nodes()
            await a.remember("bob", Known("Bob", ("lobby", "dev")), 5.0)
            self.assertEqual(await b.known("bob"), Known("Bob", ("lobby", "dev")))
        return ensureDeferred(go())

    def test_rowsOfTheCluster(self):
        """
        A node counts every node's messages: read at start, kept by its own
        writes.
        """
        async def go():
            a, = await self.nodes(1)
            await a.append([draft("x"), draft("y")])
            b = RedisStore(await connect(self, self.server))
            b.start()
            await b.history("lobby", 1)
            self.assertEqual(b.rows, 2)
            await one(b, draft("z"))
            self.assertEqual(b.rows, 3)
        return ensureDeferred(go())

    def test_scriptsForgotten(self):
        """
        When Redis has forgotten the store's scripts (as after a restart),
        they are sent again and the calls still succeed.
        """
        async def go():
            a, = await self.nodes(1)
            await one(a, draft("before"))
            await a._redis.execute("SCRIPT", "FLUSH")
            after, _ = await one(a, draft("after"))
            self.assertEqual([m.text for m in await a.history("lobby", 5)], ["before", "after"])
        return ensureDeferred(go())

    def test_pruneInSlices(self):
        """
        Pruning goes through every history, however many there are, a
        slice at a time, and forgets the client ids of what it deleted.
        """
        self.patch(storeModule, "PRUNE_SLICE", 2)

        async def go():
            a, = await self.nodes(1)
            for room in ("r1", "r2", "r3", "r4", "r5"):
                await a.append([draft("old", room=room, time=1.0, clientId=room),
                                draft("new", room=room, time=9.0)])
            self.assertEqual(await a.prune(before=5.0, keepPerRoom=None), 5)
            self.assertEqual(a.rows, 5)
            for room in ("r1", "r5"):
                self.assertEqual([m.text for m in await a.history(room, 5)], ["new"])
            self.assertEqual(await a._redis.execute("HLEN", keys.CLIENT_IDS), 0)
        return ensureDeferred(go())


class PersistenceTests(TestCase):
    """
    Redis with C{appendonly yes} and C{appendfsync always}, as
    docs/scaling.md recommends: a crash loses no line that was confirmed.
    """

    def test_confirmedLinesSurviveCrash(self):
        """
        Every line whose append was answered before Redis was killed is in
        the history once Redis has restarted, and ids go on above them.
        """
        async def go():
            server = RedisServer(self, "--appendonly", "yes", "--appendfsync", "always")
            store = RedisStore(await connect(self, server))
            store.start()
            confirmed = [m for batch in range(20)
                         for m, _ in await store.append([draft(f"{batch}.{i}") for i in range(5)])]
            server.kill()
            server.start()
            after = RedisStore(await connect(self, server))
            after.start()
            kept = await after.history("lobby", 1000)
            self.assertEqual([(m.id, m.text) for m in kept],
                             [(m.id, m.text) for m in confirmed])
            later, _ = await one(after, draft("later"))
            self.assertGreater(later.id, confirmed[-1].id)
        return ensureDeferred(go())
