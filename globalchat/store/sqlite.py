# -*- test-case-name: tests.test_store -*-
"""
Message history in SQLite, off the reactor thread.

All database work runs on one dedicated thread of a Twisted thread pool:
SQLite is blocking, and one thread means one connection, no locking
between our own threads, and writes in order.  Appends that arrive while a
write is in progress are gathered and written together in the next
transaction, so under load the cost of a commit is shared by many
messages.  The same code keeps history in memory (C{":memory:"}) for
C{--no-history}.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Callable, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")

#: The schema version this code writes; older files are migrated up to it.
SCHEMA_VERSION = 1

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
}


class StoreError(Exception):
    """
    The history cannot be used; C{str()} is one line for the user.
    """


@dataclass(frozen=True)
class Message:
    """
    One message, as sent (C{id} still C{None}) or as stored.

    @ivar time: UTC seconds since the epoch.
    @ivar room: the room, or C{None} for a private message.
    @ivar recipient: for a private message, the recipient's name key.
    @ivar clientId: the id the sending client chose, for de-duplication.
    @ivar id: server-assigned once stored: strictly increasing, never
        reused.
    """

    time: float
    room: str | None
    sender: str
    recipient: str | None
    kind: str
    text: str
    clientId: str | None = None
    id: int | None = None


_COLUMNS = "time, room, sender, recipient, kind, text, client_id, id"


def _rows(cursor: sqlite3.Cursor) -> list[Message]:
    return [Message(*row) for row in cursor.fetchall()]


class _Database:
    """
    The blocking half: runs only on the store's thread.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        try:
            self._db = sqlite3.connect(self._path, isolation_level=None,
                                       check_same_thread=False,
                                       uri=self._path.startswith("file:"))
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.execute("PRAGMA journal_mode = WAL")
            # WAL with NORMAL loses at most the last commits on power loss,
            # never the database; a server crash loses nothing.
            self._db.execute("PRAGMA synchronous = NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self._path} was written by a newer globalchat (schema "
                    f"{version}); upgrade globalchat or move the file away"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                with self._transaction():
                    for statement in _MIGRATIONS[target]:
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {target}")
            self._db.execute("SELECT count(*) FROM messages").fetchone()
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

    def append(self, drafts: list[Message]) -> list[tuple[Message, bool]]:
        results = []
        with self._transaction():
            for draft in drafts:
                if draft.clientId is not None:
                    existing = _rows(self._db.execute(
                        f"SELECT {_COLUMNS} FROM messages WHERE sender = ? AND client_id = ?",
                        (draft.sender, draft.clientId)))
                    if existing:
                        results.append((existing[0], True))
                        continue
                cursor = self._db.execute(
                    "INSERT INTO messages (time, room, sender, recipient, kind, text, client_id)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (draft.time, draft.room, draft.sender, draft.recipient, draft.kind,
                     draft.text, draft.clientId))
                results.append((replace(draft, id=cursor.lastrowid), False))
        return results

    def history(self, room: str, limit: int, beforeId: int | None) -> list[Message]:
        rows = _rows(self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (room, beforeId if beforeId is not None else 2**62, limit)))
        return rows[::-1]

    def missed(self, name: str, rooms: list[str], afterId: int) -> list[Message]:
        marks = ",".join("?" * len(rooms))
        return _rows(self._db.execute(
            f"SELECT {_COLUMNS} FROM messages WHERE id > ? AND (room IN ({marks})"
            " OR recipient = ? OR (room IS NULL AND sender = ?)) ORDER BY id",
            (afterId, *rooms, name, name)))

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

    def remember(self, key: str, display: str, now: float) -> None:
        self._db.execute(
            "INSERT INTO known VALUES (?, ?, ?) ON CONFLICT (name)"
            " DO UPDATE SET display = excluded.display, seen = excluded.seen",
            (key, display, now))

    def isKnown(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM known WHERE name = ?", (key,)).fetchone() is not None

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
        return removed

    def lastId(self) -> int:
        return self._db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class MessageStore:
    """
    The history, every call returning a L{Deferred}.

    @param path: the SQLite file, or C{":memory:"} for history that lives
        only as long as the server.
    """

    def __init__(self, reactor, path: str) -> None:
        self._reactor = reactor
        self._database = _Database(path)
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="globalchat-store")
        self._batch: list[tuple[Message, Deferred[tuple[Message, bool]]]] = []
        self._writing = False

    def _run(self, f: Callable[..., T], *args: object) -> Deferred[T]:
        return deferToThreadPool(self._reactor, self._pool, f, *args)

    def open(self) -> Deferred[None]:
        """
        Start the store's thread and open (creating or migrating) the
        database; fails with L{StoreError} for a file that cannot be used,
        which is then left untouched.
        """
        self._pool.start()
        d = self._run(self._database.open)
        d.addErrback(lambda f: (self._pool.stop(), f)[1])
        return d

    def append(self, draft: Message) -> Deferred[tuple[Message, bool]]:
        """
        Store C{draft}; fires with the stored message and whether it was a
        duplicate of one already stored (same sender and client id).
        """
        d: Deferred[tuple[Message, bool]] = Deferred()
        self._batch.append((draft, d))
        if not self._writing:
            self._flush()
        return d

    def _flush(self) -> None:
        batch, self._batch = self._batch, []
        self._writing = True

        def written(results):
            for (_, d), result in zip(batch, results):
                d.callback(result)

        def failed(failure):
            for _, d in batch:
                d.errback(failure)

        def next(_):
            self._writing = False
            if self._batch:
                self._flush()

        self._run(self._database.append, [draft for draft, _ in batch]).addCallbacks(
            written, failed).addBoth(next)

    def history(self, room: str, limit: int, beforeId: int | None = None) -> Deferred[list[Message]]:
        """
        The last C{limit} messages of C{room} (before C{beforeId}), oldest first.
        """
        return self._run(self._database.history, room, limit, beforeId)

    def missed(self, name: str, rooms: list[str], afterId: int) -> Deferred[list[Message]]:
        """
        What C{name} has not seen since C{afterId}: its rooms' messages and
        its private messages, in id order.
        """
        return self._run(self._database.missed, name, rooms, afterId)

    def queue(self, recipient: str, messageId: int) -> Deferred[None]:
        """
        Keep a private message for C{recipient} until it next logs in.
        """
        return self._run(self._database.queue, recipient, messageId)

    def takePending(self, recipient: str) -> Deferred[list[Message]]:
        """
        The queued private messages of C{recipient}, removed from the queue.
        """
        return self._run(self._database.takePending, recipient)

    def remember(self, key: str, display: str, now: float) -> Deferred[None]:
        """
        Record that a name logged in, so messages to it can be queued.
        """
        return self._run(self._database.remember, key, display, now)

    def isKnown(self, key: str) -> Deferred[bool]:
        """
        Whether a name has ever logged in.
        """
        return self._run(self._database.isKnown, key)

    def prune(self, before: float | None, keepPerRoom: int | None) -> Deferred[int]:
        """
        Delete room messages older than C{before} or beyond the newest
        C{keepPerRoom} of their room (queued private messages are kept
        until delivered); fires with how many went.
        """
        return self._run(self._database.prune, before, keepPerRoom)

    def lastId(self) -> Deferred[int]:
        """
        The newest message id.
        """
        return self._run(self._database.lastId)

    def close(self) -> Deferred[None]:
        """
        Finish pending work, close the database and stop the thread.
        """
        if not self._pool.started:
            return succeed(None)
        d = self._run(self._database.close)
        d.addBoth(lambda r: (self._pool.stop(), r)[1])
        return d
