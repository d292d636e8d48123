# -*- test-case-name: tests.test_chat_moderation -*-
"""
Who may do what: server operators, bans and mutes, registered rooms with
their founder, operators, voices and modes, and the record of every
moderation action.

This module holds the state and answers the questions the hub asks
(may this session join, speak, set the topic, read the history?); the
commands that change it are in L{globalchat.chat.modcommands}.  Bans,
rooms and the record are kept in the store, so they outlive restarts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable

from twisted.internet.defer import Deferred, gatherResults
from twisted.logger import Logger

from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.policy import hostAddress
from globalchat.store.accounts import AuditEvent, Ban, IAccountStore, RoomRecord

if TYPE_CHECKING:
    from globalchat.chat.session import Session

#: Room modes, by letter, in the order they are shown.
MODES = {"i": "invite-only", "k": "key", "m": "moderated", "t": "topic lock", "s": "secret"}

#: The mode letter kept for a room whose non-members may speak in it (IRC's
#: "-n"): kept inverted, so that every room, registered before or not, has
#: IRC's "+n" unless an operator lifts it.
OUTSIDERS = "E"

_DURATION = re.compile(r"([0-9]{1,7})([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parseDuration(text: str) -> float:
    """
    Read a duration such as C{30s}, C{10m}, C{2h}, C{7d} or C{1w}.

    @raise ChatError: for anything else.
    """
    match = _DURATION.fullmatch(text)
    if match is None or int(match.group(1)) == 0:
        raise ChatError(f"not a duration: {text!r} (use e.g. 30s, 10m, 2h, 7d, 1w)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def parseMask(text: str, accounts: Iterable[str] = ()) -> tuple[str, str]:
    """
    Read what a ban is for: an address, a CIDR network, or a name (an
    account's when it is one).

    @return: the mask as kept, and its kind.
    @raise ChatError: for text that is none of them.
    """
    if "/" in text:
        try:
            return str(ipaddress.ip_network(text, strict=False)), "network"
        except ValueError:
            raise ChatError(f"not a network: {text!r} (use e.g. 203.0.113.0/24)") from None
    address = hostAddress(text) if any(c in text for c in ".:") else None
    if address is not None:
        return str(address), "address"
    names.checkName(text)
    key = names.key(text)
    return key, "account" if key in accounts else "name"


class Moderation:
    """
    The moderation state of one server.

    @ivar operators: account keys of the server operators.
    @ivar accounts: the keys of every account.
    """

    log = Logger()

    def __init__(self, store: IAccountStore, now: Callable[[], float],
                 operators: Iterable[str] = ()) -> None:
        self._store = store
        self._now = now
        self._named = {names.key(name) for name in operators}
        self.operators = set(self._named)
        self._bans: dict[str, Ban] = {}
        self._mutes: dict[str, float | None] = {}
        self._rooms: dict[str, RoomRecord] = {}
        #: The rooms nobody registered, while they exist: their modes, and
        #: their operators, voices and invitations by name key (the first
        #: to join one is its operator, as on IRC).
        self._channels: dict[str, RoomRecord] = {}
        self.accounts: set[str] = set()
        #: Sessions made server operators while they last (IRC's OPER).
        self._opered: set[Session] = set()

    def load(self) -> Deferred[None]:
        """
        Read the bans, rooms and operators the store keeps.
        """
        d = gatherResults([self.refresh(), self._store.accounts()], consumeErrors=True)

        def loaded(found: list) -> None:
            accounts = found[1]
            self.accounts = {account.key for account in accounts}
            self.operators = self._named | {a.key for a in accounts if a.operator}

        return d.addCallback(loaded)

    def refresh(self) -> Deferred[None]:
        """
        Read the bans and registered rooms again: on a cluster, the other
        nodes change them too.
        """
        d = gatherResults([self._store.bans(self._now()), self._store.rooms()],
                          consumeErrors=True)

        def loaded(found: list) -> None:
            bans, rooms = found
            self._bans = {ban.mask: ban for ban in bans}
            self._rooms = {room.key: room for room in rooms}

        return d.addCallback(loaded)

    def accountChanged(self, key: str, exists: bool) -> None:
        """
        An account was registered, or dropped.
        """
        (self.accounts.add if exists else self.accounts.discard)(key)

    # -- who is who ------------------------------------------------------

    def isOperator(self, session: Session) -> bool:
        return (session.account is not None and session.account in self.operators) or (
            session in self._opered)

    def oper(self, session: Session, up: bool = True) -> None:
        """
        Make C{session} a server operator (or no longer, C{up} false):
        it proved it knows an operator account's password (IRC's OPER).
        """
        (self._opered.add if up else self._opered.discard)(session)

    def checkOperator(self, session: Session) -> None:
        if not self.isOperator(session):
            raise ChatError("only server operators may do that", "not-oper")

    def record(self, roomKey: str) -> RoomRecord | None:
        """
        The registration of a room, if it is registered.
        """
        return self._rooms.get(roomKey)

    def channel(self, roomKey: str) -> RoomRecord | None:
        """
        The modes and keepers of a room: its registration, or for a room
        nobody registered, what it was given since it was opened.
        """
        return self._rooms.get(roomKey) or self._channels.get(roomKey)

    def isRoomOp(self, session: Session, roomKey: str) -> bool:
        if self.isOperator(session):
            return True
        record = self._rooms.get(roomKey)
        if record is None:
            record = self._channels.get(roomKey)
            return record is not None and names.key(session.name) in record.ops
        return session.account is not None and (
            session.account == record.founder or session.account in record.ops)

    def allowsOutsiders(self, roomKey: str) -> bool:
        """
        Whether non-members may speak in the room (IRC's "-n").
        """
        record = self.channel(roomKey)
        return record is not None and OUTSIDERS in record.modes

    def hasVoice(self, session: Session, roomKey: str) -> bool:
        record = self.channel(roomKey)
        return record is not None and names.key(session.name) in record.voices

    # -- rooms nobody registered -------------------------------------------

    def opened(self, roomKey: str, display: str, name: str) -> None:
        """
        The user called C{name} made the room by joining it: unless it is
        registered, it is the room's operator while the room lasts.
        """
        if roomKey not in self._rooms:
            self._channels[roomKey] = RoomRecord(roomKey, display, "", ops=(names.key(name),))

    def closed(self, roomKey: str) -> None:
        """
        The room emptied: a room nobody registered forgets its modes.
        """
        self._channels.pop(roomKey, None)

    def renamed(self, old: str, new: str) -> None:
        """
        Rights given by name follow a user who changes it.
        """
        old, new = names.key(old), names.key(new)
        for key, record in list(self._channels.items()):
            changes = {field: tuple(new if k == old else k for k in getattr(record, field))
                       for field in ("ops", "voices", "invited")
                       if old in getattr(record, field)}
            if changes:
                self._channels[key] = replace(record, **changes)

    def invite(self, roomKey: str, name: str) -> None:
        """
        Let C{name} into the room while it is invite-only.
        """
        record = self.channel(roomKey)
        if record is not None and names.key(name) not in record.invited:
            self.change(roomKey, invited=tuple(sorted({*record.invited, names.key(name)})))

    def checkRoomOp(self, session: Session, roomKey: str) -> None:
        if not self.isRoomOp(session, roomKey):
            raise ChatError("only the room's operators may do that", "not-op")

    # -- the questions the hub asks --------------------------------------

    def checkJoin(self, session: Session, roomKey: str, key: str | None,
                  members: int = 0) -> None:
        """
        @param members: how many are in the room now.
        @raise ChatError: if C{session} may not join the room.
        """
        self._checkBanned(session, f"#{roomKey} ")
        record = self.channel(roomKey)
        if record is None or self.isRoomOp(session, roomKey):
            return
        if "l" in record.modes and record.limit is not None and members >= record.limit:
            raise ChatError(f"#{record.display} is full ({record.limit} members)", "full")
        if "i" in record.modes and names.key(session.name) not in record.invited:
            raise ChatError(f"#{record.display} is invite-only: ask one of its operators "
                            "for an /invite", "invite-only")
        if "k" in record.modes and key != record.roomKey:
            raise ChatError(f"#{record.display} needs its key: /join #{record.display} KEY",
                            "key")

    def checkSpeak(self, session: Session, roomKey: str | None) -> None:
        """
        @raise ChatError: if C{session} is muted, or the room is moderated
            and it has no voice.
        """
        key = names.key(session.name)
        if key in self._mutes:
            until = self._mutes[key]
            if until is None or until > self._now():
                raise ChatError("you are muted" + (
                    f" for {until - self._now():.0f} s more" if until is not None else ""),
                    "muted")
            del self._mutes[key]
        record = self.channel(roomKey) if roomKey is not None else None
        if (record is not None and "m" in record.modes and key not in record.voices
                and not self.isRoomOp(session, roomKey)):
            raise ChatError(f"#{record.display} is moderated: only voiced members speak",
                            "moderated")

    def checkTopic(self, session: Session, roomKey: str) -> None:
        record = self.channel(roomKey)
        if record is not None and "t" in record.modes:
            self.checkRoomOp(session, roomKey)

    def visible(self, session: Session, room) -> bool:
        """
        Whether C{room} shows in C{session}'s /rooms: a secret one only to
        its members.
        """
        record = self.channel(room.key)
        return record is None or "s" not in record.modes or room in session.rooms

    def readable(self, session: Session, roomKey: str) -> bool:
        """
        Whether C{session} may be put back in a room it was in, with its
        history (a resume): an invite-only or secret room only if it may
        still join it.
        """
        try:
            self.checkJoin(session, roomKey, None)
        except ChatError:
            return False
        return True

    def checkLogin(self, name: str, account: str | None, host: str) -> None:
        """
        @raise ChatError: if the name, account or address is banned.
        """
        for mask in (account, names.key(name), self._hostMask(host)):
            ban = self._ban(mask) if mask else None
            if ban is not None:
                raise ChatError("you are banned from this server" +
                                (f": {ban.reason}" if ban.reason else ""), "banned")

    def _checkBanned(self, session: Session, prefix: str) -> None:
        for mask in (session.account, names.key(session.name)):
            if mask is not None and self._ban(prefix + mask) is not None:
                raise ChatError("you are banned from that room", "banned-room")

    def _hostMask(self, host: str) -> str | None:
        address = hostAddress(host)
        if address is None:
            return None
        for mask, ban in self._bans.items():
            if ban.kind in ("address", "network") and address in ipaddress.ip_network(mask):
                return mask
        return None

    def _ban(self, mask: str) -> Ban | None:
        ban = self._bans.get(mask)
        if ban is not None and ban.until is not None and ban.until <= self._now():
            del self._bans[mask]
            return None
        return ban

    def matches(self, mask: str, kind: str, session: Session) -> bool:
        """
        Whether a server-wide ban of C{mask} (of C{kind}) is for C{session}.
        """
        if kind in ("account", "name"):
            return mask in (session.account, names.key(session.name))
        address = hostAddress(session.connection.host)
        return address is not None and address in ipaddress.ip_network(mask)

    # -- changes ---------------------------------------------------------

    def ban(self, mask: str, kind: str, duration: float | None, reason: str,
            setBy: str) -> Ban:
        now = self._now()
        ban = Ban(mask, kind, now + duration if duration else None, reason, setBy, now)
        self._bans[mask] = ban
        self._store.addBan(ban).addErrback(self._lost, "a ban")
        return ban

    def unban(self, mask: str) -> bool:
        if self._bans.pop(mask, None) is None:
            return False
        self._store.removeBan(mask).addErrback(self._lost, "lifting a ban")
        return True

    def bans(self) -> list[Ban]:
        return [ban for mask, ban in list(self._bans.items()) if self._ban(mask) is not None]

    def mute(self, name: str, duration: float | None) -> None:
        self._mutes[names.key(name)] = self._now() + duration if duration else None

    def unmute(self, name: str) -> bool:
        key = names.key(name)
        if key not in self._mutes:
            return False
        del self._mutes[key]
        return True

    def register(self, roomKey: str, display: str, founder: str, topic: str) -> RoomRecord:
        if roomKey in self._rooms:
            raise ChatError(f"#{display} is registered already")
        self._channels.pop(roomKey, None)
        return self.save(RoomRecord(roomKey, display, founder, topic=topic))

    def change(self, room: str, **changes) -> RoomRecord:
        """
        Change the record of the registered room whose key is C{room}, and
        keep it.
        """
        record = self._rooms.get(room)
        if record is None:
            record = self._channels.get(room)
            if record is None:
                raise ChatError("that room is not registered: /room register it first")
            record = self._channels[room] = replace(record, **changes)
            return record
        return self.save(replace(record, **changes))

    def save(self, record: RoomRecord) -> RoomRecord:
        self._rooms[record.key] = record
        self._store.saveRoom(record).addErrback(self._lost, "a room")
        return record

    def audit(self, session: Session, action: str, target: str, reason: str = "") -> None:
        """
        Log a moderation action and keep it for /audit.
        """
        actor = session.account or names.key(session.name)
        self.log.warn("{actor} {action} {target}: {reason}", actor=session.name, action=action,
                      target=target, reason=reason or "no reason given", security="moderation")
        self._store.audit(AuditEvent(self._now(), actor, action, target, reason)).addErrback(
            self._lost, "an audit event")

    def auditLog(self, limit: int) -> Deferred[list[AuditEvent]]:
        """
        The last C{limit} moderation actions, oldest first.
        """
        return self._store.auditLog(limit)

    def _lost(self, failure, what: str) -> None:
        self.log.failure("keeping {what} failed", failure, what=what)
