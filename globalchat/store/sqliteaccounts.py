# -*- test-case-name: tests.test_store_accounts -*-
"""
Accounts, certificates, registered rooms, bans and the audit log in the
history's SQLite file (the tables of schema version 4 in
L{globalchat.store.sqlite}).

Both halves are mixed into the classes of L{globalchat.store.sqlite}:
L{AccountTables} into the blocking database, so these calls run on the
store's one thread with one connection like every other, and
L{AccountCalls} into L{globalchat.store.sqlite.MessageStore}, so they
join the same queue and are carried out in order with the messages.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Callable, ContextManager

from twisted.internet.defer import Deferred

from globalchat.store.accounts import Account, AuditEvent, Ban, RoomRecord, checkFingerprint

#: Schema version 4 of the history file: accounts and the certificates
#: bound to them, registered rooms, bans and the audit log.  Lists of
#: names are JSON, as in known.rooms: they are only ever read and written
#: whole.
ACCOUNT_TABLES = [
    """CREATE TABLE accounts (
        key TEXT PRIMARY KEY,
        display TEXT NOT NULL,
        skeleton TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created REAL NOT NULL,
        operator INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE certificates (
        fingerprint TEXT PRIMARY KEY,
        account TEXT NOT NULL REFERENCES accounts (key) ON DELETE CASCADE
    )""",
    "CREATE INDEX certificates_account ON certificates (account)",
    """CREATE TABLE rooms (
        key TEXT PRIMARY KEY,
        display TEXT NOT NULL,
        founder TEXT NOT NULL,
        ops TEXT NOT NULL,
        voices TEXT NOT NULL,
        modes TEXT NOT NULL,
        room_key TEXT,
        topic TEXT NOT NULL,
        invited TEXT NOT NULL
    )""",
    """CREATE TABLE bans (
        mask TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('account', 'name', 'address', 'network')),
        until REAL,
        reason TEXT NOT NULL,
        set_by TEXT NOT NULL,
        created REAL NOT NULL
    )""",
    """CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        reason TEXT NOT NULL
    )""",
]

_ACCOUNT = "key, display, skeleton, password_hash, created, operator"
_ROOM = "key, display, founder, ops, voices, modes, room_key, topic, invited"
_BAN = "mask, kind, until, reason, set_by, created"


def _account(row: tuple | None) -> Account | None:
    if row is None:
        return None
    *fields, operator = row
    return Account(*fields, operator=bool(operator))


def _room(row: tuple) -> RoomRecord:
    key, display, founder, ops, voices, modes, roomKey, topic, invited = row
    return RoomRecord(key, display, founder, tuple(json.loads(ops)), tuple(json.loads(voices)),
                      modes, roomKey, topic, tuple(json.loads(invited)))


class AccountTables:
    """
    The blocking half, on the store's thread.

    @ivar _db: the open connection, set by the class this is mixed into.
    @ivar _transaction: makes a context manager around one transaction.
    """

    _db: sqlite3.Connection
    _transaction: Callable[[], ContextManager[None]]

    def _changed(self, sql: str, args: tuple) -> bool:
        return self._db.execute(sql, args).rowcount > 0

    def account(self, key: str) -> Account | None:
        return _account(self._db.execute(
            f"SELECT {_ACCOUNT} FROM accounts WHERE key = ?", (key,)).fetchone())

    def accountBySkeleton(self, skeleton: str) -> Account | None:
        return _account(self._db.execute(
            f"SELECT {_ACCOUNT} FROM accounts WHERE skeleton = ?", (skeleton,)).fetchone())

    def createAccount(self, account: Account) -> bool:
        # Either unique column taken: nothing inserted.
        return self._changed(
            f"INSERT INTO accounts ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (account.key, account.display, account.skeleton, account.passwordHash,
             account.created, int(account.operator)))

    def setPassword(self, key: str, passwordHash: str) -> bool:
        return self._changed("UPDATE accounts SET password_hash = ? WHERE key = ?",
                             (passwordHash, key))

    def setOperator(self, key: str, flag: bool) -> bool:
        return self._changed("UPDATE accounts SET operator = ? WHERE key = ?", (int(flag), key))

    def deleteAccount(self, key: str) -> bool:
        # Its certificates go with it: ON DELETE CASCADE.
        return self._changed("DELETE FROM accounts WHERE key = ?", (key,))

    def accounts(self) -> list[Account]:
        return [_account(row) for row in self._db.execute(
            f"SELECT {_ACCOUNT} FROM accounts ORDER BY key")]

    def bindCertificate(self, key: str, fingerprint: str) -> bool:
        return self._changed(
            "INSERT INTO certificates (fingerprint, account) SELECT ?, key FROM accounts"
            " WHERE key = ? ON CONFLICT DO NOTHING", (fingerprint, key))

    def unbindCertificate(self, key: str, fingerprint: str) -> bool:
        return self._changed("DELETE FROM certificates WHERE fingerprint = ? AND account = ?",
                             (fingerprint, key))

    def certificates(self, key: str) -> list[str]:
        return [fingerprint for (fingerprint,) in self._db.execute(
            "SELECT fingerprint FROM certificates WHERE account = ? ORDER BY fingerprint",
            (key,))]

    def certificateOwner(self, fingerprint: str) -> str | None:
        row = self._db.execute("SELECT account FROM certificates WHERE fingerprint = ?",
                               (fingerprint,)).fetchone()
        return None if row is None else row[0]

    def saveRoom(self, record: RoomRecord) -> None:
        self._db.execute(
            f"INSERT OR REPLACE INTO rooms ({_ROOM}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (record.key, record.display, record.founder, json.dumps(list(record.ops)),
             json.dumps(list(record.voices)), record.modes, record.roomKey, record.topic,
             json.dumps(list(record.invited))))

    def dropRoom(self, key: str) -> bool:
        return self._changed("DELETE FROM rooms WHERE key = ?", (key,))

    def rooms(self) -> list[RoomRecord]:
        return [_room(row) for row in self._db.execute(f"SELECT {_ROOM} FROM rooms ORDER BY key")]

    def addBan(self, ban: Ban) -> None:
        self._db.execute(f"INSERT OR REPLACE INTO bans ({_BAN}) VALUES (?, ?, ?, ?, ?, ?)",
                         (ban.mask, ban.kind, ban.until, ban.reason, ban.setBy, ban.created))

    def removeBan(self, mask: str) -> bool:
        return self._changed("DELETE FROM bans WHERE mask = ?", (mask,))

    def bans(self, now: float) -> list[Ban]:
        with self._transaction():
            self._db.execute("DELETE FROM bans WHERE until <= ?", (now,))
            return [Ban(*row) for row in self._db.execute(
                f"SELECT {_BAN} FROM bans ORDER BY created, mask")]

    def audit(self, event: AuditEvent) -> None:
        self._db.execute("INSERT INTO audit (time, actor, action, target, reason)"
                         " VALUES (?, ?, ?, ?, ?)",
                         (event.time, event.actor, event.action, event.target, event.reason))

    def auditLog(self, limit: int) -> list[AuditEvent]:
        rows = self._db.execute(
            "SELECT time, actor, action, target, reason FROM audit ORDER BY id DESC LIMIT ?",
            (max(limit, 0),)).fetchall()
        return [AuditEvent(*row) for row in reversed(rows)]


class AccountCalls:
    """
    The half the chat calls: each call joins the store's queue.

    @ivar _call: queues a call of the blocking half by name, set by the
        class this is mixed into.
    """

    _call: Callable[..., Deferred]

    def account(self, key: str) -> Deferred[Account | None]:
        return self._call("account", key)

    def accountBySkeleton(self, skeleton: str) -> Deferred[Account | None]:
        return self._call("accountBySkeleton", skeleton)

    def createAccount(self, account: Account) -> Deferred[bool]:
        return self._call("createAccount", account)

    def setPassword(self, key: str, passwordHash: str) -> Deferred[bool]:
        return self._call("setPassword", key, passwordHash)

    def setOperator(self, key: str, flag: bool) -> Deferred[bool]:
        return self._call("setOperator", key, flag)

    def deleteAccount(self, key: str) -> Deferred[bool]:
        return self._call("deleteAccount", key)

    def accounts(self) -> Deferred[list[Account]]:
        return self._call("accounts")

    def bindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        return self._call("bindCertificate", key, checkFingerprint(fingerprint))

    def unbindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        return self._call("unbindCertificate", key, checkFingerprint(fingerprint))

    def certificates(self, key: str) -> Deferred[list[str]]:
        return self._call("certificates", key)

    def certificateOwner(self, fingerprint: str) -> Deferred[str | None]:
        return self._call("certificateOwner", checkFingerprint(fingerprint))

    def saveRoom(self, record: RoomRecord) -> Deferred[None]:
        return self._call("saveRoom", record)

    def dropRoom(self, key: str) -> Deferred[bool]:
        return self._call("dropRoom", key)

    def rooms(self) -> Deferred[list[RoomRecord]]:
        return self._call("rooms")

    def addBan(self, ban: Ban) -> Deferred[None]:
        return self._call("addBan", ban)

    def removeBan(self, mask: str) -> Deferred[bool]:
        return self._call("removeBan", mask)

    def bans(self, now: float) -> Deferred[list[Ban]]:
        return self._call("bans", now)

    def audit(self, event: AuditEvent) -> Deferred[None]:
        return self._call("audit", event)

    def auditLog(self, limit: int) -> Deferred[list[AuditEvent]]:
        return self._call("auditLog", limit)
