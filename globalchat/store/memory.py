# -*- test-case-name: tests.test_store -*-
"""
History kept in memory only, for C{--no-history}: the same behaviour as
the SQLite store while the server runs, and nothing written to disk.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import replace

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from globalchat.store.interface import IMessageStore, Known, Message


@implementer(IMessageStore)
class MemoryStore:
    """
    Messages in lists by room and by recipient; every answer is ready at
    once.
    """

    def __init__(self) -> None:
        self._lastId = 0
        self._rooms: dict[str, list[Message]] = defaultdict(list)
        self._private: dict[str, list[Message]] = defaultdict(list)
        self._byClientId: dict[tuple[str, str], Message] = {}
        self._pending: dict[str, dict[int, Message]] = defaultdict(dict)

    def load(self) -> dict[str, Known]:
        return {}

    def start(self) -> None:
        pass

    def append(self, drafts: list[Message]) -> Deferred[list[tuple[Message, bool]]]:
        results = []
        for draft in drafts:
            key = (draft.sender, draft.clientId)
            if draft.clientId is not None and key in self._byClientId:
                results.append((self._byClientId[key], True))
                continue
            self._lastId += 1
            message = replace(draft, id=self._lastId)
            if draft.clientId is not None:
                self._byClientId[key] = message
            if message.room is not None:
                self._rooms[message.room].append(message)
            else:
                self._private[message.recipient].append(message)
            results.append((message, False))
        return succeed(results)

    def history(self, room: str, limit: int) -> Deferred[list[Message]]:
        return succeed(self._rooms.get(room, [])[-limit:] if limit > 0 else [])

    def missed(self, recipient: str, rooms: list[str], afterId: int,
               limit: int) -> Deferred[list[Message]]:
        # The newest limit of all are among the newest limit of each.
        found = sorted((m for source in [*(self._rooms.get(r, []) for r in rooms),
                                         self._private.get(recipient, [])]
                        for m in source[max(_after(source, afterId), len(source) - limit):]),
                       key=lambda m: m.id)
        return succeed(found[max(len(found) - limit, 0):])

    def queue(self, recipient: str, messageId: int) -> Deferred[None]:
        for message in self._private.get(recipient, []):
            if message.id == messageId:
                self._pending[recipient][messageId] = message
        return succeed(None)

    def takePending(self, recipient: str) -> Deferred[list[Message]]:
        kept = self._pending.pop(recipient, {})
        return succeed([kept[i] for i in sorted(kept)])

    def remember(self, key: str, known: Known, now: float) -> Deferred[None]:
        return succeed(None)

    def prune(self, before: float | None, keepPerRoom: int | None) -> Deferred[int]:
        removed = 0
        for room, messages in self._rooms.items():
            kept = [m for m in messages if before is None or m.time >= before]
            if keepPerRoom is not None:
                kept = kept[-keepPerRoom:]
            removed += len(messages) - len(kept)
            self._rooms[room] = kept
        queued = {i for kept in self._pending.values() for i in kept}
        for recipient, messages in self._private.items():
            kept = [m for m in messages if before is None or m.time >= before or m.id in queued]
            removed += len(messages) - len(kept)
            self._private[recipient] = kept
        live = {id(m) for source in (*self._rooms.values(), *self._private.values()) for m in source}
        self._byClientId = {k: m for k, m in self._byClientId.items() if id(m) in live}
        return succeed(removed)

    def close(self) -> Deferred[None]:
        return succeed(None)


def _after(messages: list[Message], afterId: int) -> int:
    """
    The index of the first message in id-ordered C{messages} above C{afterId}.
    """
    return bisect.bisect_right(messages, afterId, key=lambda m: m.id)
