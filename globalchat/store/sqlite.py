# -*- test-case-name: tests.test_store,tests.test_store_accounts -*-
"""
Message history, and the accounts kept beside it
(L{globalchat.store.sqliteaccounts}), in SQLite, off the reactor thread.

All database work runs on one dedicated thread of a Twisted thread pool:
SQLite is blocking, and one thread means one connection, no locking
between our own threads, and writes in the order they were asked for.
Calls that arrive while the thread is busy go to it together in the next
hand-over, in order, and consecutive appends are written in one
transaction: under load the cost of a commit is shared by many messages,
and thousands of clients logging in at once cost a few hand-overs, not
thousands.
"""

from __future__ import annotations

import json
import sqlite3
from itertools import chain, groupby
from operator import attrgetter
from typing import Callable, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool
from zope.interface import implementer

from globalchat.store.accounts import IAccountStore
from globalchat.store.interface import IMessageStore, Known, Message, StoreError
from globalchat.store.sqliteaccounts import ACCOUNT_TABLES, AccountCalls, AccountTables

T = TypeVar("T")

#: The schema version this code writes; older files are migrated up to it.
SCHEMA_VERSION = 4

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time REAL NOT NULL,
            room TEXT,
            sender TEXT NOT NULL,
            recipient TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            client_id TEXT
        )""",
        "CREATE INDEX messages_room ON messages (room, id)",
        "CREATE INDEX messages_recipient ON messages (recipient, id)",
        """CREATE UNIQUE INDEX messages_client ON messages (sender, client_id)
            WHERE client_id IS NOT NULL""",
        """CREATE TABLE pending (
            recipient TEXT NOT NULL,
            message INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            PRIMARY KEY (recipient, message)
        )""",
        "CREATE TABLE known (name TEXT PRIMARY KEY, display TEXT NOT NULL, seen REAL NOT NULL)",
    ],
    # Version 2: the rooms a name was in when it left, for resuming clients.
    2: ["ALTER TABLE known ADD COLUMN rooms TEXT NOT NULL DEFAULT '[]'"],
    # Version 3: room messages, nearly all of them, have no recipient:
    # leaving them out of its index saves a write per message.
    3: [
        "DROP INDEX messages_recipient",
        "CREATE INDEX messages_recipient ON messages (recipient, id) WHERE recipient IS NOT NULL",
    ],
    # Version 4: accounts and the certificates bound to them, registered
    # rooms, bans and the audit log.
    4: ACCOUNT_TABLES,
}

_COLUMNS = "time, room, sender, recipient, kind, text, client_id, id"

#: The columns an INSERT fills, and the draft's attributes that fill them.
_COLUMN_NAMES = ("time", "room", "sender", "recipient", "kind", "text", "client_id")
_VALUES = attrgetter("time", "room", "sender", "recipient", "kind", "text", "clientId")

#: Rows one INSERT statement writes when a batch has that many.
ROWS_PER_INSERT = 128

_ROW = "(" + ", ".join("?" * len(_COLUMN_NAMES)) + ")"
_INSERT_ONE = f"INSERT INTO messages ({', '.join(_COLUMN_NAMES)}) VALUES {_ROW}"
_INSERT_MANY = _INSERT_ONE + f", {_ROW}" * (ROWS_PER_INSERT - 1)


def _rows(cursor: sqlite3.Cursor) -> list[Message]:
    return [Message(*row) for row in cursor.fetchall()]


class _Database(AccountTables):
    """
    The blocking half: runs on the store's thread (and once at start-up,
    before there is one, to check the file).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None
        #: How many messages the file holds: counted on opening, then kept
        #: by every insert and pruning (counting anew is a scan).
        self.rows = 0

    def open(self) -> None:
        try:
            self._db = sqlite3.connect(self._path, isolation_level=None,
                                       check_same_thread=False,
                                       uri=self._path.startswith("file:"))
            # The version first: a file we must refuse is not even
            # switched to WAL.
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path} was written by a newer globalchat (schema "
                    f"{version}); upgrade globalchat or move the file away"
                )
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL loses at most the last commits on power loss,
            # never the database; a server crash loses nothing.
            self._db.execute("PRAGMA synchronous = NORMAL")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._transaction():
                    for statement in _MIGRATIONS[target]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {target}")
            self.rows = self._db.execute("SELECT count(*) FROM messages").fetchone()[0]
            # Fail now, not at the first message, if we may not write.
            with self._transaction():
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as e:
            self.close()
            raise StoreError(f"cannot use the history database {self._path}: {e}") from None

    def _transaction(self):
        db = self._db

        class Transaction:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, kind, value, traceback):
                db.execute("COMMIT" if kind is None else "ROLLBACK")

        return Transaction()

    def known(self) -> dict[str, Known]:
        return {
            name: Known(display, tuple(json.loads(rooms)))
            for name, display, rooms in self._db.execute("SELECT name, display, rooms FROM known")
        }

    def append(self, drafts: list[Message]) -> list[tuple[Message, bool]]:
        results: list[tuple[Message, bool]] = []
        with self._transaction():
            for lookUp, run in groupby(drafts, key=lambda draft: draft.clientId is not None):
                if lookUp:
                    results += [self._appendOnce(draft) for draft in run]
                else:
                    # Messages without a client id need no look-up: insert
                    # the run of them in one call.
                    results += [(message, False) for message in self._insert(list(run))]
        return results

    def _appendOnce(self, draft: Message) -> tuple[Message, bool]:
        existing = _rows(self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE sender = ? AND client_id = ?",
            (draft.sender, draft.clientId)))
        if existing:
            return existing[0], True
        return self._insert([draft])[0], False

    def _insert(self, drafts: list[Message]) -> list[Message]:
        # Prepared statements (the connection caches them) of
        # ROWS_PER_INSERT rows each, then one of one row for the rest: a
        # step of the statement is a release of the GIL and a wake-up of
        # the reactor's thread, so one per row would cost more than the row.
        whole = len(drafts) - len(drafts) % ROWS_PER_INSERT
        if whole:
            values = list(chain.from_iterable(map(_VALUES, drafts[:whole])))
            width = len(_COLUMN_NAMES) * ROWS_PER_INSERT
            self._db.executemany(_INSERT_MANY, (values[start:start + width]
                                                for start in range(0, len(values), width)))
        if whole < len(drafts):
            self._db.executemany(_INSERT_ONE, map(_VALUES, drafts[whole:]))
        self.rows += len(drafts)
        # One connection writes, in one transaction, and AUTOINCREMENT
        # gives each row the next id: the run's ids end at the last one.
        # The drafts become the stored messages: nobody else holds them.
        last = self._db.execute("SELECT last_insert_rowid()").fetchone()[0]
        for messageId, draft in enumerate(drafts, last - len(drafts) + 1):
            draft.id = messageId
        return drafts

    def history(self, room: str, limit: int) -> list[Message]:
        rows = _rows(self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?",
            (room, limit)))
        return rows[::-1]

    def missed(self, recipient: str, rooms: list[str], afterId: int,
               limit: int) -> list[Message]:
        marks = ",".join("?" * len(rooms))
        # The newest first, so that LIMIT keeps those; then back in order.
        return _rows(self._db.execute(
            f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM messages WHERE id > ?"
            f" AND (room IN ({marks}) OR recipient = ?) ORDER BY id DESC LIMIT ?) ORDER BY id",
            (afterId, *rooms, recipient, max(limit, 0))))

    def queue(self, recipient: str, messageId: int) -> None:
        self._db.execute("INSERT OR IGNORE INTO pending VALUES (?, ?)", (recipient, messageId))

    def takePending(self, recipient: str) -> list[Message]:
        with self._transaction():
            rows = _rows(self._db.execute(
                f"SELECT {', '.join('m.' + c.strip() for c in _COLUMNS.split(','))}"
                " FROM pending p JOIN messages m ON m.id = p.message"
                " WHERE p.recipient = ? ORDER BY m.id", (recipient,)))
            self._db.execute("DELETE FROM pending WHERE recipient = ?", (recipient,))
        return rows

    def remember(self, key: str, known: Known, now: float) -> None:
        self._db.execute(
            "INSERT INTO known (name, display, seen, rooms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET display = excluded.display,"
            " seen = excluded.seen, rooms = excluded.rooms",
            (key, known.display, now, json.dumps(list(known.rooms))))

    def knownName(self, key: str) -> Known | None:
        row = self._db.execute("SELECT display, rooms FROM known WHERE name = ?",
                               (key,)).fetchone()
        return None if row is None else Known(row[0], tuple(json.loads(row[1])))

    def prune(self, before: float | None, keepPerRoom: int | None) -> int:
        removed = 0
        with self._transaction():
            if before is not None:
                removed += self._db.execute(
                    "DELETE FROM messages WHERE time < ? AND id NOT IN"
                    " (SELECT message FROM pending)", (before,)).rowcount
            if keepPerRoom is not None:
                removed += self._db.execute(
                    "DELETE FROM messages WHERE room IS NOT NULL AND id IN ("
                    " SELECT id FROM (SELECT id, row_number() OVER"
                    " (PARTITION BY room ORDER BY id DESC) AS n FROM messages"
                    " WHERE room IS NOT NULL) WHERE n > ?)", (keepPerRoom,)).rowcount
        self.rows -= removed
        return removed

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@implementer(IMessageStore, IAccountStore)
class MessageStore(AccountCalls):
    """
    The history and the accounts in an SQLite file.

    @param path: the file (or an SQLite C{file:} URI).
    """

    log = Logger()

    def __init__(self, reactor, path: str) -> None:
        self._reactor = reactor
        self._database = _Database(path)
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="globalchat-store")
        self._queue: list[tuple[str, tuple, Deferred]] = []
        self._working = False

    @property
    def rows(self) -> int:
        # Written on the store's thread; an int is read whole.
        return self._database.rows

    def _run(self, f: Callable[..., T], *args: object) -> Deferred[T]:
        return deferToThreadPool(self._reactor, self._pool, f, *args)

    def load(self) -> dict[str, Known]:
        # Opened and closed again here, on the main thread: twistd forks
        # into the background after this, and an SQLite connection must
        # not cross a fork.
        self._database.open()
        try:
            return self._database.known()
        finally:
            self._database.close()

    def start(self) -> None:
        self._pool.start()

        def failed(failure: Failure) -> None:
            # load() just opened the same file: only a change behind our
            # back gets here, and a chat that cannot store must not run.
            self.log.critical("{error}; stopping", error=failure.getErrorMessage())
            self._reactor.stop()

        self._call("open").addErrback(failed)

    def _call(self, name: str, *args: object) -> Deferred:
        """
        Queue the database method C{name}: what is asked while the thread
        is busy goes to it in one hand-over, in order, and consecutive
        appends in one transaction.
        """
        d: Deferred = Deferred()
        self._queue.append((name, args, d))
        if not self._working:
            self._flush()
        return d

    def _flush(self) -> None:
        batch, self._queue = self._queue, []
        self._working = True

        def done(outcomes: list[tuple[bool, object]]) -> None:
            for (_, _, d), (ok, value) in zip(batch, outcomes):
                if ok:
                    d.callback(value)
                else:
                    d.errback(value)

        def next(_: object) -> None:
            self._working = False
            if self._queue:
                self._flush()

        self._run(self._work, [(name, args) for name, args, _ in batch]).addCallback(
            done).addBoth(next)

    def _work(self, calls: list[tuple[str, tuple]]) -> list[tuple[bool, object]]:
        """
        On the store's thread: carry out C{calls}, each with its outcome.
        """
        outcomes: list[tuple[bool, object]] = []
        for name, group in groupby(calls, key=lambda call: call[0]):
            run = [args for _, args in group]
            if name == "append":
                # A run of appends: one transaction, then each its share.
                try:
                    results = self._database.append([d for (drafts,) in run for d in drafts])
                except Exception:
                    outcomes += [(False, Failure())] * len(run)
                    continue
                start = 0
                for (drafts,) in run:
                    outcomes.append((True, results[start : start + len(drafts)]))
                    start += len(drafts)
                continue
            for args in run:
                try:
                    outcomes.append((True, getattr(self._database, name)(*args)))
                except Exception:
                    outcomes.append((False, Failure()))
        return outcomes

    def append(self, drafts: list[Message]) -> Deferred[list[tuple[Message, bool]]]:
        return self._call("append", drafts)

    def history(self, room: str, limit: int) -> Deferred[list[Message]]:
        return self._call("history", room, limit)

    def missed(self, recipient: str, rooms: list[str], afterId: int,
               limit: int) -> Deferred[list[Message]]:
        return self._call("missed", recipient, rooms, afterId, limit)

    def queue(self, recipient: str, messageId: int) -> Deferred[None]:
        return self._call("queue", recipient, messageId)

    def takePending(self, recipient: str) -> Deferred[list[Message]]:
        return self._call("takePending", recipient)

    def remember(self, key: str, known: Known, now: float) -> Deferred[None]:
        return self._call("remember", key, known, now)

    def known(self, key: str) -> Deferred[Known | None]:
        return self._call("knownName", key)

    def prune(self, before: float | None, keepPerRoom: int | None) -> Deferred[int]:
        return self._call("prune", before, keepPerRoom)

    def close(self) -> Deferred[None]:
        if not self._pool.started:
            return succeed(None)
        d = self._call("close")
        d.addBoth(lambda r: (self._pool.stop(), r)[1])
        return d
