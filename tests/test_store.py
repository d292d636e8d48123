"""
Tests for L{globalchat.store.sqlite}: in memory and in a file.
"""

import os
import sqlite3
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred, gatherResults
from twisted.trial.unittest import TestCase

from globalchat.store.sqlite import SCHEMA_VERSION, Message, MessageStore, StoreError


def draft(text, room="lobby", sender="ann", recipient=None, time=1000.0, clientId=None):
    return Message(time, room, sender, recipient, "msg", text, clientId)


class StoreTests(TestCase):
    """
    The store's behaviour, the same in memory and on disk.
    """

    path = ":memory:"

    async def open(self):
        store = MessageStore(reactor, self.path)
        await store.open()
        self.addCleanup(store.close)
        return store

    def test_idsIncreaseAndBatch(self):
        """
        Messages appended together get strictly increasing ids in the order
        they were appended.
        """
        async def go():
            store = await self.open()
            results = await gatherResults([store.append(draft(str(i))) for i in range(50)])
            ids = [m.id for m, duplicate in results]
            self.assertEqual(ids, sorted(ids))
            self.assertEqual(len(set(ids)), 50)
            self.assertEqual([m.text for m, _ in results], [str(i) for i in range(50)])
        return ensureDeferred(go())

    def test_duplicateClientId(self):
        """
        A message re-sent with the same client id is stored once; the
        second append returns the first message, marked duplicate.
        """
        async def go():
            store = await self.open()
            first, dup1 = await store.append(draft("hi", clientId="c1"))
            again, dup2 = await store.append(draft("hi", clientId="c1"))
            other, _ = await store.append(draft("hi", sender="bob", clientId="c1"))
            self.assertEqual((dup1, dup2, again), (False, True, first))
            self.assertNotEqual(other.id, first.id)
        return ensureDeferred(go())

    def test_historyAndMissed(self):
        """
        History is per room, newest N oldest first; what a name missed is
        its rooms' and its private messages after an id.
        """
        async def go():
            store = await self.open()
            for i in range(5):
                await store.append(draft(f"l{i}"))
            await store.append(draft("elsewhere", room="dev"))
            private, _ = await store.append(draft("psst", room=None, recipient="bob"))
            last = await store.history("lobby", 2)
            self.assertEqual([m.text for m in last], ["l3", "l4"])
            before = await store.history("lobby", 10, beforeId=last[0].id)
            self.assertEqual([m.text for m in before], ["l0", "l1", "l2"])
            missed = await store.missed("bob", ["lobby"], last[0].id)
            self.assertEqual([m.text for m in missed], ["l4", "psst"])
            self.assertEqual(await store.lastId(), private.id)
        return ensureDeferred(go())

    def test_pendingDeliveredOnce(self):
        """
        Queued private messages are handed over once.
        """
        async def go():
            store = await self.open()
            m, _ = await store.append(draft("later", room=None, recipient="bob"))
            await store.queue("bob", m.id)
            await store.queue("bob", m.id)
            self.assertEqual([x.text for x in await store.takePending("bob")], ["later"])
            self.assertEqual(await store.takePending("bob"), [])
        return ensureDeferred(go())

    def test_knownNames(self):
        """
        A name is known once it has logged in.
        """
        async def go():
            store = await self.open()
            self.assertFalse(await store.isKnown("bob"))
            await store.remember("bob", "Bob", 5.0)
            self.assertTrue(await store.isKnown("bob"))
        return ensureDeferred(go())

    def test_retention(self):
        """
        Pruning by age and by count per room keeps the newest messages and
        undelivered private ones.
        """
        async def go():
            store = await self.open()
            for i in range(6):
                await store.append(draft(f"m{i}", time=float(i)))
            kept, _ = await store.append(draft("queued", room=None, recipient="bob", time=0.0))
            await store.queue("bob", kept.id)
            self.assertEqual(await store.prune(before=2.0, keepPerRoom=None), 2)
            self.assertEqual(await store.prune(before=None, keepPerRoom=3), 1)
            self.assertEqual([m.text for m in await store.history("lobby", 10)], ["m3", "m4", "m5"])
            self.assertEqual([m.text for m in await store.takePending("bob")], ["queued"])
        return ensureDeferred(go())


class FileStoreTests(StoreTests):
    """
    The same, in a file; plus what only a file can do.
    """

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())

    def test_reopenKeepsIdsIncreasing(self):
        """
        After a restart ids continue above the last one, even if the newest
        messages were pruned.
        """
        async def go():
            store = MessageStore(reactor, self.path)
            self.addCleanup(store.close)
            await store.open()
            a, _ = await store.append(draft("a"))
            await store.prune(before=10**9, keepPerRoom=None)
            await store.close()
            store = await self.open()
            b, _ = await store.append(draft("b"))
            self.assertGreater(b.id, a.id)
        return ensureDeferred(go())

    def test_walMode(self):
        """
        The file is in WAL mode with the current schema version.
        """
        async def go():
            await self.open()
            db = sqlite3.connect(self.path)
            self.addCleanup(db.close)
            self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
        return ensureDeferred(go())

    def test_corruptFile(self):
        """
        A file that is not a database is a clear error and is not touched.
        """
        Path(self.path).write_bytes(b"this is not a database" * 100)
        before = Path(self.path).read_bytes()

        async def go():
            store = MessageStore(reactor, self.path)
            self.addCleanup(store.close)
            with self.assertRaises(StoreError) as caught:
                await store.open()
            self.assertIn(self.path, str(caught.exception))
            self.assertEqual(Path(self.path).read_bytes(), before)
        return ensureDeferred(go())

    def test_newerSchema(self):
        """
        A file from a newer version is refused, not downgraded.
        """
        db = sqlite3.connect(self.path)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()

        async def go():
            store = MessageStore(reactor, self.path)
            self.addCleanup(store.close)
            with self.assertRaises(StoreError) as caught:
                await store.open()
            self.assertIn("newer globalchat", str(caught.exception))
        return ensureDeferred(go())

    def test_readOnlyFile(self):
        """
        A database the server may not write is a clear error at start and
        is left as it was.
        """
        async def go():
            first = MessageStore(reactor, self.path)
            await first.open()
            await first.append(draft("keep me"))
            await first.close()
            os.chmod(self.path, 0o444)
            before = Path(self.path).read_bytes()
            # Root writes through file modes; a read-only URI stands for
            # the read-only mount root would meet.
            path = f"file:{self.path}?mode=ro" if os.getuid() == 0 else self.path
            store = MessageStore(reactor, path)
            self.addCleanup(store.close)
            with self.assertRaises(StoreError) as caught:
                await store.open()
            self.assertIn("readonly", str(caught.exception))
            self.assertEqual(Path(self.path).read_bytes(), before)
        return ensureDeferred(go())
