"""
Tests for the history stores: L{globalchat.store.sqlite} in memory and in
a file, and L{globalchat.store.memory}, which must behave the same.
"""

import os
import sqlite3
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase

from globalchat.store.interface import Known, Message, StoreError
from globalchat.store.memory import MemoryStore
from globalchat.store.sqlite import _MIGRATIONS, ROWS_PER_INSERT, SCHEMA_VERSION, MessageStore
from tests.redisserver import RedisStoreMixin


def draft(text, room="lobby", sender="ann", recipient=None, time=1000.0, clientId=None):
    return Message(time, room, sender, recipient, "priv" if room is None else "msg", text,
                   clientId)


async def append(store, *drafts):
    return await store.append(list(drafts))


async def one(store, message):
    [(stored, duplicate)] = await store.append([message])
    return stored, duplicate


class BehaviourMixin:
    """
    What every store does, whatever keeps the messages.
    """

    def open(self):
        raise NotImplementedError()

    def test_idsIncreaseAndBatch(self):
        """
        Messages appended together, and in batches made while a write is
        under way, get strictly increasing ids in the order they came.
        """
        async def go():
            store = self.open()
            batches = [store.append([draft(f"{b}.{i}") for i in range(10)]) for b in range(5)]
            results = [r for batch in batches for r in await batch]
            ids = [m.id for m, duplicate in results]
            self.assertEqual(ids, sorted(ids))
            self.assertEqual(len(set(ids)), 50)
            self.assertEqual([m.text for m, _ in results],
                             [f"{b}.{i}" for b in range(5) for i in range(10)])
        return ensureDeferred(go())

    def test_largeBatch(self):
        """
        A batch of hundreds of messages (more than one INSERT statement's
        worth in SQLite) is stored whole and in order, each under the id
        it is returned with.
        """
        async def go():
            store = self.open()
            count = 2 * ROWS_PER_INSERT + 3
            results = await store.append([draft(f"m{i}") for i in range(count)])
            ids = [m.id for m, duplicate in results]
            self.assertEqual(ids, list(range(ids[0], ids[0] + count)))
            stored = await store.history("lobby", count + 1)
            self.assertEqual([(m.id, m.text) for m in stored],
                             [(m.id, f"m{i}") for i, (m, _) in enumerate(results)])
        return ensureDeferred(go())

    def test_duplicateClientId(self):
        """
        A message re-sent with the same client id is stored once; the
        second append returns the first message, marked duplicate.
        """
        async def go():
            store = self.open()
            first, dup1 = await one(store, draft("hi", clientId="c1"))
            again, dup2 = await one(store, draft("hi", clientId="c1"))
            other, _ = await one(store, draft("hi", sender="bob", clientId="c1"))
            self.assertEqual((dup1, dup2, again), (False, True, first))
            self.assertNotEqual(other.id, first.id)
            self.assertEqual([m.text for m in await store.history("lobby", 10)], ["hi", "hi"])
        return ensureDeferred(go())

    def test_mixedBatch(self):
        """
        In one batch, messages with and without client ids keep their
        order, get the ids they are stored under, and a repeat of a client
        id within the batch is a duplicate.
        """
        async def go():
            store = self.open()
            results = await store.append([draft("a"), draft("b", clientId="x"), draft("c"),
                                          draft("b", clientId="x"), draft("d")])
            self.assertEqual([(m.text, dup) for m, dup in results],
                             [("a", False), ("b", False), ("c", False), ("b", True), ("d", False)])
            stored = await store.history("lobby", 10)
            self.assertEqual([(m.id, m.text) for m in stored],
                             [(m.id, m.text) for m, dup in results if not dup])
            self.assertEqual(results[3][0], results[1][0])
        return ensureDeferred(go())

    def test_historyAndMissed(self):
        """
        History is per room, the newest N oldest first; what a name missed
        is its rooms' and its private messages after an id.
        """
        async def go():
            store = self.open()
            for i in range(5):
                await one(store, draft(f"l{i}"))
            await one(store, draft("elsewhere", room="dev"))
            await one(store, draft("not for bob", room=None, recipient="carl"))
            await one(store, draft("psst", room=None, recipient="bob"))
            last = await store.history("lobby", 2)
            self.assertEqual([m.text for m in last], ["l3", "l4"])
            self.assertEqual(await store.history("lobby", 0), [])
            self.assertEqual(await store.history("nowhere", 5), [])
            missed = await store.missed("bob", ["lobby"], last[0].id, 10)
            self.assertEqual([m.text for m in missed], ["l4", "psst"])
            missed = await store.missed("bob", ["lobby", "dev"], last[0].id, 10)
            self.assertEqual([m.text for m in missed], ["l4", "elsewhere", "psst"])
        return ensureDeferred(go())

    def test_missedLimit(self):
        """
        Of what a name missed, only the newest C{limit} messages come, in
        id order, whichever rooms or private messages they are in; asking
        for one more than shown tells whether some were left out.
        """
        async def go():
            store = self.open()
            start, _ = await one(store, draft("before"))
            for i in range(3):
                await one(store, draft(f"l{i}"))
                await one(store, draft(f"d{i}", room="dev"))
                await one(store, draft(f"p{i}", room=None, recipient="bob"))
            await one(store, draft("not for bob", room=None, recipient="carl"))
            texts = lambda found: [m.text for m in found]
            self.assertEqual(texts(await store.missed("bob", ["lobby", "dev"], start.id, 4)),
                             ["p1", "l2", "d2", "p2"])
            self.assertEqual(texts(await store.missed("bob", ["lobby"], start.id, 3)),
                             ["p1", "l2", "p2"])
            everything = await store.missed("bob", ["lobby", "dev"], start.id, 10)
            self.assertEqual(len(everything), 9)
            self.assertEqual(await store.missed("bob", ["lobby", "dev"], start.id, 9),
                             everything)
            self.assertEqual(await store.missed("bob", ["lobby"], start.id, 0), [])
        return ensureDeferred(go())

    def test_missedByGuest(self):
        """
        A guest resuming (no account, so no private messages) is shown what
        its rooms missed.
        """
        async def go():
            store = self.open()
            start, _ = await one(store, draft("before"))
            await one(store, draft("psst", room=None, recipient="bob"))
            await one(store, draft("after"))
            self.assertEqual([m.text for m in await store.missed(None, ["lobby"], start.id, 10)],
                             ["after"])
        return ensureDeferred(go())

    def test_pendingDeliveredOnce(self):
        """
        Queued private messages are handed over once, in id order.
        """
        async def go():
            store = self.open()
            a, _ = await one(store, draft("first", room=None, recipient="bob"))
            b, _ = await one(store, draft("second", room=None, recipient="bob"))
            await store.queue("bob", b.id)
            await store.queue("bob", a.id)
            await store.queue("bob", a.id)
            self.assertEqual([x.text for x in await store.takePending("bob")], ["first", "second"])
            self.assertEqual(await store.takePending("bob"), [])
        return ensureDeferred(go())

    def test_knownLookedUp(self):
        """
        What was last remembered of a name is found by its key.
        """
        async def go():
            store = self.open()
            await store.remember("bob", Known("Bob", ("lobby", "dev")), 5.0)
            await store.remember("bob", Known("BOB", ("dev",)), 6.0)
            self.assertEqual(await store.known("bob"), Known("BOB", ("dev",)))
            self.assertIsNone(await store.known("carl"))
        return ensureDeferred(go())

    def test_retention(self):
        """
        Pruning by age and by count per room keeps the newest messages and
        undelivered private ones; the messages kept are counted throughout.
        """
        async def go():
            store = self.open()
            for i in range(6):
                await one(store, draft(f"m{i}", time=float(i)))
            kept, _ = await one(store, draft("queued", room=None, recipient="bob", time=0.0))
            await one(store, draft("old", room=None, recipient="bob", time=0.0))
            await store.queue("bob", kept.id)
            self.assertEqual(store.rows, 8)
            self.assertEqual(await store.prune(before=2.0, keepPerRoom=None), 3)
            self.assertEqual(await store.prune(before=None, keepPerRoom=3), 1)
            self.assertEqual(store.rows, 4)
            self.assertEqual([m.text for m in await store.history("lobby", 10)], ["m3", "m4", "m5"])
            self.assertEqual([m.text for m in await store.takePending("bob")], ["queued"])
        return ensureDeferred(go())


class MemoryStoreTests(BehaviourMixin, TestCase):
    """
    The in-memory store of C{--no-history}.
    """

    def open(self):
        store = MemoryStore()
        self.assertEqual(store.load(), {})
        store.start()
        return store


class SQLiteMemoryTests(BehaviourMixin, TestCase):
    """
    The SQLite store on an in-memory database.
    """

    path = ":memory:"

    def open(self, path=None):
        return openSQLite(self, path or self.path)


def openSQLite(testCase, path):
    """
    The SQLite store at C{path}, checked and started, closed after the test.
    """
    store = MessageStore(reactor, path)
    store.load()
    store.start()
    testCase.addCleanup(store.close)
    return store


class FileStoreTests(SQLiteMemoryTests):
    """
    The same in a file; plus what only a file can do.
    """

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())

    def test_knownNamesSurviveRestart(self):
        """
        Names that logged in, and the rooms they were in, are there after
        a restart.
        """
        async def go():
            store = self.open()
            await store.remember("bob", Known("Bob", ("lobby", "dev")), 5.0)
            await store.remember("bob", Known("BOB", ("dev",)), 6.0)
            await store.close()
            self.assertEqual(MessageStore(reactor, self.path).load(),
                             {"bob": Known("BOB", ("dev",))})
        return ensureDeferred(go())

    def test_rowsCountedOnOpening(self):
        """
        After a restart the messages kept are counted from the file.
        """
        async def go():
            store = self.open()
            await append(store, draft("a"), draft("b"))
            await store.close()
            self.assertEqual(self.open().rows, 2)
        return ensureDeferred(go())

    def test_reopenKeepsIdsIncreasing(self):
        """
        After a restart ids continue above the last one, even if the newest
        messages were pruned.
        """
        async def go():
            store = self.open()
            a, _ = await one(store, draft("a"))
            await store.prune(before=10**9, keepPerRoom=None)
            await store.close()
            b, _ = await one(self.open(), draft("b"))
            self.assertGreater(b.id, a.id)
        return ensureDeferred(go())

    def test_walMode(self):
        """
        The file is in WAL mode with the current schema version.
        """
        self.open()
        db = sqlite3.connect(self.path)
        self.addCleanup(db.close)
        self.assertEqual(db.execute("PRAGMA journal_mode").fetchone()[0], "wal")
        self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)

    def test_migrationFromVersion1(self):
        """
        A version 1 file is migrated: its messages and known names stay,
        and the names get an empty list of rooms.
        """
        db = sqlite3.connect(self.path)
        for statement in _MIGRATIONS[1]:
            db.execute(statement)
        db.execute("INSERT INTO messages (time, room, sender, kind, text)"
                   " VALUES (1.0, 'lobby', 'Ann', 'msg', 'from before')")
        db.execute("INSERT INTO known VALUES ('ann', 'Ann', 1.0)")
        db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()

        async def go():
            store = MessageStore(reactor, self.path)
            self.assertEqual(store.load(), {"ann": Known("Ann", ())})
            store.start()
            self.addCleanup(store.close)
            self.assertEqual([m.text for m in await store.history("lobby", 5)], ["from before"])
        return ensureDeferred(go())

    def assertRefused(self, path, words):
        """
        Loading C{path} fails with one clear line naming it, and leaves
        the file as it was.
        """
        before = Path(self.path).read_bytes()
        with self.assertRaises(StoreError) as caught:
            MessageStore(reactor, path).load()
        message = str(caught.exception)
        self.assertIn(self.path, message)
        self.assertIn(words, message)
        self.assertNotIn("\n", message)
        self.assertEqual(Path(self.path).read_bytes(), before)

    def test_corruptFile(self):
        """
        A file that is not a database is a clear error and is not touched.
        """
        Path(self.path).write_bytes(b"this is not a database" * 100)
        self.assertRefused(self.path, "not a database")

    def test_newerSchema(self):
        """
        A file from a newer version is refused, not downgraded.
        """
        db = sqlite3.connect(self.path)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.close()
        self.assertRefused(self.path, "newer globalchat")

    def test_readOnlyFile(self):
        """
        A database the server may not write is a clear error at start and
        is left as it was.
        """
        async def go():
            first = self.open()
            await one(first, draft("keep me"))
            await first.close()
            os.chmod(self.path, 0o444)
            # Root writes through file modes; a read-only URI stands for
            # the read-only mount root would meet.
            path = f"file:{self.path}?mode=ro" if os.getuid() == 0 else self.path
            self.assertRefused(path, "readonly")
        return ensureDeferred(go())


class RedisStoreTests(RedisStoreMixin, BehaviourMixin, TestCase):
    """
    The cluster's store, on a real redis-server.
    """
