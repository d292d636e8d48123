# -*- test-case-name: tests.test_store,tests.test_store_accounts -*-
"""
History and accounts kept in memory only, for C{--no-history}: the same
behaviour as the SQLite store while the server runs, and nothing written
to disk.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import replace

from twisted.internet.defer import Deferred, succeed
from zope.interface import implementer

from globalchat.store.accounts import (
    Account, AuditEvent, Ban, IAccountStore, RoomRecord, checkFingerprint)
from globalchat.store.interface import IMessageStore, Known, Message


@implementer(IMessageStore, IAccountStore)
class MemoryStore:
    """
    Messages in lists by room and by recipient, accounts and the rest in
    dictionaries by key; every answer is ready at once.
    """

    def __init__(self) -> None:
        self._lastId = 0
        self._rooms: dict[str, list[Message]] = defaultdict(list)
        self._private: dict[str, list[Message]] = defaultdict(list)
        self._byClientId: dict[tuple[str, str], Message] = {}
        self._pending: dict[str, dict[int, Message]] = defaultdict(dict)
        self._known: dict[str, Known] = {}
        self._accounts: dict[str, Account] = {}
        self._skeletons: dict[str, str] = {}
        self._certificates: dict[str, str] = {}
        self._roomRecords: dict[str, RoomRecord] = {}
        self._bans: dict[str, Ban] = {}
        self._audit: list[AuditEvent] = []

    @property
    def rows(self) -> int:
        return sum(map(len, self._rooms.values())) + sum(map(len, self._private.values()))

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
        self._known[key] = known
        return succeed(None)

    def known(self, key: str) -> Deferred[Known | None]:
        return succeed(self._known.get(key))

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

    def account(self, key: str) -> Deferred[Account | None]:
        return succeed(self._accounts.get(key))

    def accountBySkeleton(self, skeleton: str) -> Deferred[Account | None]:
        key = self._skeletons.get(skeleton)
        return succeed(None if key is None else self._accounts[key])

    def createAccount(self, account: Account) -> Deferred[bool]:
        if account.key in self._accounts or account.skeleton in self._skeletons:
            return succeed(False)
        self._accounts[account.key] = account
        self._skeletons[account.skeleton] = account.key
        return succeed(True)

    def _change(self, key: str, **changes: object) -> Deferred[bool]:
        """
        Replace fields of the account C{key}, if there is one.
        """
        if key not in self._accounts:
            return succeed(False)
        self._accounts[key] = replace(self._accounts[key], **changes)
        return succeed(True)

    def setPassword(self, key: str, passwordHash: str) -> Deferred[bool]:
        return self._change(key, passwordHash=passwordHash)

    def setOperator(self, key: str, flag: bool) -> Deferred[bool]:
        return self._change(key, operator=flag)

    def deleteAccount(self, key: str) -> Deferred[bool]:
        account = self._accounts.pop(key, None)
        if account is None:
            return succeed(False)
        del self._skeletons[account.skeleton]
        self._certificates = {f: k for f, k in self._certificates.items() if k != key}
        return succeed(True)

    def accounts(self) -> Deferred[list[Account]]:
        return succeed([self._accounts[key] for key in sorted(self._accounts)])

    def bindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        if checkFingerprint(fingerprint) in self._certificates or key not in self._accounts:
            return succeed(False)
        self._certificates[fingerprint] = key
        return succeed(True)

    def unbindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        if self._certificates.get(checkFingerprint(fingerprint)) != key:
            return succeed(False)
        del self._certificates[fingerprint]
        return succeed(True)

    def certificates(self, key: str) -> Deferred[list[str]]:
        return succeed(sorted(f for f, owner in self._certificates.items() if owner == key))

    def certificateOwner(self, fingerprint: str) -> Deferred[str | None]:
        return succeed(self._certificates.get(checkFingerprint(fingerprint)))

    def saveRoom(self, record: RoomRecord) -> Deferred[None]:
        self._roomRecords[record.key] = record
        return succeed(None)

    def dropRoom(self, key: str) -> Deferred[bool]:
        return succeed(self._roomRecords.pop(key, None) is not None)

    def rooms(self) -> Deferred[list[RoomRecord]]:
        return succeed([self._roomRecords[key] for key in sorted(self._roomRecords)])

    def addBan(self, ban: Ban) -> Deferred[None]:
        self._bans[ban.mask] = ban
        return succeed(None)

    def removeBan(self, mask: str) -> Deferred[bool]:
        return succeed(self._bans.pop(mask, None) is not None)

    def bans(self, now: float) -> Deferred[list[Ban]]:
        self._bans = {m: b for m, b in self._bans.items() if b.until is None or b.until > now}
        return succeed(sorted(self._bans.values(), key=lambda b: (b.created, b.mask)))

    def audit(self, event: AuditEvent) -> Deferred[None]:
        self._audit.append(event)
        return succeed(None)

    def auditLog(self, limit: int) -> Deferred[list[AuditEvent]]:
        return succeed(self._audit[max(len(self._audit) - limit, 0):])


def _after(messages: list[Message], afterId: int) -> int:
    """
    The index of the first message in id-ordered C{messages} above C{afterId}.
    """
    return bisect.bisect_right(messages, afterId, key=lambda m: m.id)
