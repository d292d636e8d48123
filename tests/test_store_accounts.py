"""
Tests for the accounts, certificates, rooms, bans and audit log the
stores keep (L{globalchat.store.accounts}): the SQLite store in memory and
in a file, and the in-memory store, which must behave the same; and the
upgrade of a history written by the schema 3 release.
"""

import os
import shutil
import sqlite3
from pathlib import Path

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import TestCase

from globalchat.store.accounts import Account, AuditEvent, Ban, IAccountStore, RoomRecord
from globalchat.store.interface import IMessageStore, Known, Message, StoreError
from globalchat.store.memory import MemoryStore
from tests.redisserver import RedisStoreMixin
from tests.test_store import openSQLite
from globalchat.store.sqlite import SCHEMA_VERSION, MessageStore

#: A history written by the release with schema version 3.
VERSION_3 = Path(__file__).parent / "fixtures" / "history-v3.sqlite3"

FP1 = "a1" * 32
FP2 = "b2" * 32


def account(key, skeleton=None, passwordHash="scrypt$16384$8$1$c2FsdA$aGFzaA", created=5.0):
    return Account(key, key.title(), skeleton or f"skel-{key}", passwordHash, created)


def ban(mask, until=None, created=1.0, reason="spam", kind="name"):
    return Ban(mask, kind, until, reason, "op", created)


class AccountBehaviourMixin:
    """
    What every store does with accounts, whatever keeps them.
    """

    def open(self):
        raise NotImplementedError()

    def test_provides(self):
        """
        The store provides both interfaces.
        """
        store = self.open()
        self.assertTrue(IMessageStore.providedBy(store))
        self.assertTrue(IAccountStore.providedBy(store))

    def test_createAndLookUp(self):
        """
        A created account is found by its key and by its skeleton, as it
        was given; other keys and skeletons find nothing.
        """
        async def go():
            store = self.open()
            bea = account("bea", skeleton="bea-skel")
            self.assertIs(await store.createAccount(bea), True)
            self.assertEqual(await store.account("bea"), bea)
            self.assertEqual(await store.accountBySkeleton("bea-skel"), bea)
            self.assertIsNone(await store.account("mallory"))
            self.assertIsNone(await store.accountBySkeleton("bea"))
        return ensureDeferred(go())

    def test_keyAndSkeletonUnique(self):
        """
        An account whose key or skeleton is taken is not created, and the
        account that holds them is left as it was.
        """
        async def go():
            store = self.open()
            bea = account("bea", skeleton="bea")
            await store.createAccount(bea)
            self.assertIs(await store.createAccount(account("bea", skeleton="other")), False)
            self.assertIs(await store.createAccount(account("bеa", skeleton="bea")), False)
            self.assertEqual(await store.accounts(), [bea])
            self.assertIsNone(await store.accountBySkeleton("other"))
        return ensureDeferred(go())

    def test_accountsByKey(self):
        """
        Every account is listed, by key.
        """
        async def go():
            store = self.open()
            for key in ("carl", "ann", "bea"):
                await store.createAccount(account(key))
            self.assertEqual([a.key for a in await store.accounts()], ["ann", "bea", "carl"])
        return ensureDeferred(go())

    def test_setPasswordAndOperator(self):
        """
        The password hash and the operator flag of an account change; for
        an account that does not exist the answer is C{False}.
        """
        async def go():
            store = self.open()
            await store.createAccount(account("bea"))
            self.assertIs(await store.setPassword("bea", "scrypt$new"), True)
            self.assertIs(await store.setOperator("bea", True), True)
            found = await store.account("bea")
            self.assertEqual((found.passwordHash, found.operator), ("scrypt$new", True))
            self.assertIs(await store.setOperator("bea", False), True)
            self.assertIs((await store.account("bea")).operator, False)
            self.assertIs(await store.setPassword("nobody", "x"), False)
            self.assertIs(await store.setOperator("nobody", True), False)
            self.assertIsNone(await store.account("nobody"))
        return ensureDeferred(go())

    def test_hashNotShown(self):
        """
        An account's C{repr()}, which a log might show, leaves out its
        password hash.
        """
        self.assertNotIn("secret-hash", repr(account("bea", passwordHash="secret-hash")))

    def test_deleteAccount(self):
        """
        A deleted account is gone with its certificates, its key and
        skeleton are free again, and a new account of that name gets none
        of its certificates.
        """
        async def go():
            store = self.open()
            await store.createAccount(account("bea"))
            await store.createAccount(account("carl"))
            await store.bindCertificate("bea", FP1)
            await store.bindCertificate("carl", FP2)
            self.assertIs(await store.deleteAccount("bea"), True)
            self.assertIs(await store.deleteAccount("bea"), False)
            self.assertIsNone(await store.account("bea"))
            self.assertIsNone(await store.certificateOwner(FP1))
            self.assertEqual(await store.certificateOwner(FP2), "carl")
            self.assertIs(await store.createAccount(account("bea")), True)
            self.assertEqual(await store.certificates("bea"), [])
        return ensureDeferred(go())

    def test_certificateBoundOnce(self):
        """
        A certificate is bound to one account at a time, and only to one
        that exists; once unbound by its owner it may be bound elsewhere.
        """
        async def go():
            store = self.open()
            await store.createAccount(account("bea"))
            await store.createAccount(account("carl"))
            self.assertIs(await store.bindCertificate("bea", FP2), True)
            self.assertIs(await store.bindCertificate("bea", FP1), True)
            self.assertIs(await store.bindCertificate("bea", FP1), False)
            self.assertIs(await store.bindCertificate("carl", FP1), False)
            self.assertIs(await store.bindCertificate("nobody", "c3" * 32), False)
            self.assertIsNone(await store.certificateOwner("c3" * 32))
            self.assertEqual(await store.certificates("bea"), [FP1, FP2])
            self.assertEqual(await store.certificates("carl"), [])
            self.assertEqual(await store.certificateOwner(FP1), "bea")
            self.assertIs(await store.unbindCertificate("carl", FP1), False)
            self.assertIs(await store.unbindCertificate("bea", FP1), True)
            self.assertIs(await store.unbindCertificate("bea", FP1), False)
            self.assertIs(await store.bindCertificate("carl", FP1), True)
            self.assertEqual(await store.certificateOwner(FP1), "carl")
            self.assertEqual(await store.certificates("bea"), [FP2])
        return ensureDeferred(go())

    def test_fingerprintForm(self):
        """
        A fingerprint in any form but 64 lowercase hex digits is refused
        at once, so one certificate cannot be bound under two spellings.
        """
        store = self.open()
        for wrong in (FP1.upper(), FP1[:-2], ":".join([FP1[i:i + 2] for i in range(0, 64, 2)]),
                      "g" * 64):
            self.assertRaises(ValueError, store.bindCertificate, "bea", wrong)
            self.assertRaises(ValueError, store.unbindCertificate, "bea", wrong)
            self.assertRaises(ValueError, store.certificateOwner, wrong)

    def test_rooms(self):
        """
        A registered room is kept whole, saving it again replaces it, and
        rooms are listed by key until dropped.
        """
        async def go():
            store = self.open()
            dev = RoomRecord("dev", "Dev", "bea", ("carl",), ("dan", "eve"), "imt", "sesame",
                             "release friday", ("fay",))
            lobby = RoomRecord("lobby", "Lobby", "ann")
            await store.saveRoom(dev)
            await store.saveRoom(lobby)
            self.assertEqual(await store.rooms(), [dev, lobby])
            changed = RoomRecord("dev", "Dev", "bea", (), ("dan",), "s", None, "", ())
            await store.saveRoom(changed)
            self.assertEqual(await store.rooms(), [changed, lobby])
            self.assertIs(await store.dropRoom("dev"), True)
            self.assertIs(await store.dropRoom("dev"), False)
            self.assertEqual(await store.rooms(), [lobby])
        return ensureDeferred(go())

    def test_banReplacesSameMask(self):
        """
        Banning a mask again replaces its ban; bans are listed oldest
        first, and a lifted ban is gone.
        """
        async def go():
            store = self.open()
            await store.addBan(ban("mallory", created=1.0))
            await store.addBan(ban("10.0.0.0/8", kind="network", created=2.0))
            again = ban("mallory", until=500.0, created=3.0, reason="again")
            await store.addBan(again)
            self.assertEqual([(b.mask, b.reason) for b in await store.bans(now=10.0)],
                             [("10.0.0.0/8", "spam"), ("mallory", "again")])
            self.assertIs(await store.removeBan("10.0.0.0/8"), True)
            self.assertIs(await store.removeBan("10.0.0.0/8"), False)
            self.assertEqual(await store.bans(now=10.0), [again])
        return ensureDeferred(go())

    def test_banExpiry(self):
        """
        A ban is in force until its end: at C{now} those that ended are
        left out and deleted, so they do not come back for an earlier
        C{now} either; bans without an end stay.
        """
        async def go():
            store = self.open()
            bans = [ban("ended", until=99.0, created=1.0), ban("endsNow", until=100.0, created=2.0),
                    ban("later", until=101.0, created=3.0), ban("forever", created=4.0),
                    ban("192.0.2.1", kind="address", until=150.0, created=5.0)]
            for each in bans:
                await store.addBan(each)
            self.assertEqual(await store.bans(now=100.0), bans[2:])
            self.assertEqual(await store.bans(now=0.0), bans[2:])
            self.assertEqual(await store.bans(now=200.0), [bans[3]])
        return ensureDeferred(go())

    def test_banKind(self):
        """
        A ban must say what its mask is.
        """
        self.assertRaises(ValueError, ban, "x", kind="nick")

    def test_auditLog(self):
        """
        The audit log gives the last events in the order they were kept,
        newest last, even when several have the same time.
        """
        async def go():
            store = self.open()
            events = [AuditEvent(7.0, "op", "kick", f"user{i}", "flood" if i % 2 else "")
                      for i in range(5)]
            for event in events:
                await store.audit(event)
            self.assertEqual(await store.auditLog(3), events[2:])
            self.assertEqual(await store.auditLog(10), events)
            self.assertEqual(await store.auditLog(0), [])
        return ensureDeferred(go())

    def test_callsInOrder(self):
        """
        Calls made without waiting, with messages among them, are carried
        out in the order they were made.
        """
        async def go():
            store = self.open()
            calls = [store.createAccount(account("bea")), store.bindCertificate("bea", FP1),
                     store.append([Message(1.0, "lobby", "Bea", None, "msg", "hi")]),
                     store.certificateOwner(FP1), store.deleteAccount("bea"),
                     store.certificateOwner(FP1), store.createAccount(account("bea")),
                     store.addBan(ban("x")), store.bans(now=0.0), store.removeBan("x"),
                     store.bans(now=0.0)]
            results = [await call for call in calls]
            self.assertEqual(results[:2] + results[3:7] + results[8:],
                             [True, True, "bea", True, None, True, [ban("x")], True, []])
        return ensureDeferred(go())


class MemoryAccountTests(AccountBehaviourMixin, TestCase):
    """
    The in-memory store of C{--no-history}.
    """

    def open(self):
        store = MemoryStore()
        store.load()
        store.start()
        return store


class SQLiteMemoryAccountTests(AccountBehaviourMixin, TestCase):
    """
    The SQLite store on an in-memory database.
    """

    path = ":memory:"

    def open(self, path=None):
        return openSQLite(self, path or self.path)


class RedisAccountTests(RedisStoreMixin, AccountBehaviourMixin, TestCase):
    """
    The cluster's store, on a real redis-server.
    """


class FileAccountTests(SQLiteMemoryAccountTests):
    """
    The same in a file; plus what only a file can do: keep everything
    across restarts, and upgrade the file of an earlier release.
    """

    def setUp(self):
        self.path = os.path.abspath(self.mktemp())

    def test_surviveRestart(self):
        """
        Accounts, certificates, rooms, bans and the audit log are there
        after a restart.
        """
        async def go():
            store = self.open()
            bea = account("bea")
            room = RoomRecord("dev", "Dev", "bea", ("carl",), (), "i", "sesame", "t", ("dan",))
            event = AuditEvent(3.0, "bea", "ban", "mallory", "spam")
            await store.createAccount(bea)
            await store.setOperator("bea", True)
            await store.bindCertificate("bea", FP1)
            await store.saveRoom(room)
            await store.addBan(ban("mallory"))
            await store.audit(event)
            await store.close()
            store = self.open()
            self.assertEqual(await store.accounts(), [Account(
                "bea", "Bea", "skel-bea", bea.passwordHash, 5.0, operator=True)])
            self.assertEqual(await store.certificateOwner(FP1), "bea")
            self.assertEqual(await store.rooms(), [room])
            self.assertEqual(await store.bans(now=2.0), [ban("mallory")])
            self.assertEqual(await store.auditLog(5), [event])
        return ensureDeferred(go())

    def test_upgradeFromVersion3(self):
        """
        A history written by the schema 3 release is upgraded in place:
        its messages, client ids, queued private message and known names
        stay, new messages get ids above the old ones, and accounts can
        be kept.
        """
        shutil.copyfile(VERSION_3, self.path)

        async def go():
            store = MessageStore(reactor, self.path)
            self.assertEqual(store.load(), {"ann": Known("Ann", ("lobby", "dev")),
                                            "bob": Known("Bob", ("lobby",))})
            store.start()
            self.addCleanup(store.close)
            self.assertEqual([m.text for m in await store.history("lobby", 10)],
                             ["hello lobby", "waves"])
            self.assertEqual([m.text for m in await store.missed("bob", ["dev"], 0, 10)],
                             ["hello dev", "seen while here", "kept while away"])
            self.assertEqual([m.text for m in await store.takePending("bob")],
                             ["kept while away"])
            [(again, duplicate)] = await store.append(
                [Message(2000.0, "lobby", "Bob", None, "act", "waves", "b0b.1")])
            self.assertEqual((again.id, again.time, duplicate), (2, 1001.0, True))
            [(new, _)] = await store.append([Message(2001.0, "lobby", "Ann", None, "msg", "new")])
            self.assertEqual(new.id, 6)
            self.assertIs(await store.createAccount(account("ann")), True)
            self.assertEqual((await store.account("ann")).display, "Ann")
            db = sqlite3.connect(self.path)
            self.addCleanup(db.close)
            self.assertEqual(db.execute("PRAGMA user_version").fetchone()[0], SCHEMA_VERSION)
        return ensureDeferred(go())

    def test_upgradeRefusedLeavesFile(self):
        """
        A schema 3 history the server may not write is refused with one
        line naming it, and is not changed: the upgrade happens whole or
        not at all.
        """
        shutil.copyfile(VERSION_3, self.path)
        os.chmod(self.path, 0o444)
        before = Path(self.path).read_bytes()
        # Root writes through file modes; a read-only URI stands for the
        # read-only mount root would meet.
        path = f"file:{self.path}?mode=ro" if os.getuid() == 0 else self.path
        with self.assertRaises(StoreError) as caught:
            MessageStore(reactor, path).load()
        self.assertIn(self.path, str(caught.exception))
        self.assertNotIn("\n", str(caught.exception))
        self.assertEqual(Path(self.path).read_bytes(), before)
