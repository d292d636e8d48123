# -*- test-case-name: tests.test_irc_history -*-
"""
CHATHISTORY (IRCv3 draft/chathistory): a channel's stored messages, the
same the line port's C{/history} reads, in a C{chathistory} batch.

Messages are found among the last L{MAX_HISTORY} of a room (the store
keeps more, but answers by newest), by message id (C{msgid=}) or time
(C{timestamp=}).  Private conversations are kept for accounts only, so
only an account gets its own (with another account's or guest's name as
the target).
"""

from __future__ import annotations

import calendar
import time
from typing import TYPE_CHECKING, Callable

from twisted.internet.defer import Deferred, gatherResults, succeed

from globalchat.chat import names
from globalchat.chat.commands import MAX_HISTORY
from globalchat.irc.message import Message, build
from globalchat.irc.render import serverTime

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.irc.session import IRCSession
    from globalchat.store.interface import Message as Stored

#: Most messages one CHATHISTORY returns (ISUPPORT CHATHISTORY).
MAX_LIMIT = 100

_SUBCOMMANDS = ("LATEST", "BEFORE", "AFTER", "AROUND", "BETWEEN", "TARGETS")


class Refused(Exception):
    """
    A CHATHISTORY that cannot be answered: C{FAIL CHATHISTORY code}.
    """

    def __init__(self, code: str, *context: str) -> None:
        super().__init__(code)
        self.code = code
        self.context = context


def parseTime(text: str) -> float:
    """
    A C{timestamp=} value (ISO 8601 UTC, milliseconds optional) in seconds.
    """
    main, _, fraction = text.rstrip("Z").partition(".")
    try:
        seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise Refused("INVALID_PARAMS", text, "bad timestamp") from None
    return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


def selector(text: str) -> Callable[[Stored], float]:
    """
    How a reference (C{msgid=N}, C{timestamp=T}) places a message: a
    function giving a message's position minus the reference's.
    """
    kind, _, value = text.partition("=")
    if kind == "msgid" and value.isdigit():
        at = int(value)
        return lambda m: m.id - at
    if kind == "timestamp":
        when = parseTime(value)
        return lambda m: m.time - when
    raise Refused("INVALID_PARAMS", text, "a reference is msgid=ID or timestamp=TIME")


def pick(sub: str, messages: list[Stored], refs: list[str], limit: int) -> list[Stored]:
    """
    The messages (oldest first) that a CHATHISTORY subcommand selects.
    """
    if sub == "LATEST":
        if refs[0] != "*":
            after = selector(refs[0])
            messages = [m for m in messages if after(m) > 0]
        return messages[-limit:]
    at = selector(refs[0])
    if sub == "BEFORE":
        return [m for m in messages if at(m) < 0][-limit:]
    if sub == "AFTER":
        return [m for m in messages if at(m) > 0][:limit]
    if sub == "AROUND":
        before = [m for m in messages if at(m) < 0]
        after = [m for m in messages if at(m) >= 0]
        half = limit // 2
        chosen = before[-half:] if half else []
        return chosen + after[:limit - len(chosen)]
    other = selector(refs[1])
    inside = [m for m in messages if (at(m) > 0 and other(m) < 0) or (at(m) < 0 and other(m) > 0)]
    # From the first reference towards the second.
    ascending = any(at(m) > 0 for m in inside) or not inside
    return inside[:limit] if ascending else inside[-limit:]


class HistoryCommands:
    """
    CHATHISTORY, bound to one hub.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def irc_CHATHISTORY(self, session: IRCSession, message: Message) -> None:
        params = message.params
        sub = params[0].upper() if params else ""
        try:
            if sub not in _SUBCOMMANDS:
                raise Refused("UNKNOWN_COMMAND", sub or "*", "Unknown subcommand")
            if len(params) < (5 if sub == "BETWEEN" else 4):
                raise Refused("INVALID_PARAMS", sub, "Not enough parameters")
            limit = params[-1]
            if not limit.isdigit() or not 0 < int(limit):
                raise Refused("INVALID_PARAMS", limit, "bad limit")
            limit = min(int(limit), MAX_LIMIT)
            if sub == "TARGETS":
                d = self._targets(session, params[1], params[2], limit)
            else:
                d = self._history(session, sub, params[1], params[2:-1], limit)
        except Refused as e:
            session.fromServer("FAIL", "CHATHISTORY", e.code, *e.context)
            return

        def refused(failure) -> None:
            failure.trap(Refused)
            e = failure.value
            session.answer(build("FAIL", "CHATHISTORY", e.code, *e.context,
                                 source=session.server.name))

        session.waitFor(d.addErrback(refused))

    def _history(self, session: IRCSession, sub: str, target: str, refs: list[str],
                 limit: int) -> Deferred[None]:
        for ref in refs:
            if ref != "*" or sub != "LATEST":
                selector(ref)
        if target.startswith("#"):
            room = self._hub.bus.room(target)
            if room is None or room not in session.rooms:
                raise Refused("INVALID_TARGET", sub, target, "You may not read that history")
            found = self._hub.store.history(room.key, MAX_HISTORY)
            where = room.name
        else:
            found = self._private(session, target)
            where = target

        def show(messages: list[Stored]) -> None:
            self._batch(session, target, pick(sub, messages, refs, limit), where)

        return found.addCallback(show)

    def _private(self, session: IRCSession, target: str) -> Deferred[list[Stored]]:
        """
        The private messages between C{session}'s account and C{target}.
        """
        mine, theirs = session.account, names.key(target)
        if mine is None:
            return succeed([])
        store = self._hub.store
        both = gatherResults([store.missed(mine, [], 0, MAX_HISTORY),
                              store.missed(theirs, [], 0, MAX_HISTORY)], consumeErrors=True)

        def between(found: list[list[Stored]]) -> list[Stored]:
            received = [m for m in found[0] if names.key(m.sender) == theirs]
            sent = [m for m in found[1] if names.key(m.sender) == mine]
            return sorted(received + sent, key=lambda m: m.id)

        return both.addCallback(between)

    def _batch(self, session: IRCSession, target: str, messages: list[Stored],
               where: str) -> None:
        batched = "batch" in session.caps
        ref = f"h{id(messages) % 1000000}"
        out = []
        if batched:
            out.append(build("BATCH", f"+{ref}", "chathistory", target, source=session.server.name))
        extra = {"batch": ref} if batched else None
        for stored in messages:
            if stored.room is not None:
                shownWhere = where
            elif names.key(stored.sender) == names.key(session.name):
                shownWhere = target
            else:
                shownWhere = session.name
            out.append(session.render.shown(stored, shownWhere, extra))
        if batched:
            out.append(build("BATCH", f"-{ref}", source=session.server.name))
        session.answer(b"".join(out))

    def _targets(self, session: IRCSession, first: str, second: str,
                 limit: int) -> Deferred[None]:
        start, end = sorted((selectorTime(first), selectorTime(second)))
        rooms = list(session.rooms)
        found = gatherResults([self._hub.store.history(room.key, 1) for room in rooms],
                              consumeErrors=True)

        def show(lasts: list[list[Stored]]) -> None:
            latest = sorted(((last[-1].time, room) for room, last in zip(rooms, lasts)
                             if last and start <= last[-1].time <= end), key=lambda p: p[0])
            ref = f"t{id(lasts) % 1000000}"
            batched = "batch" in session.caps
            out = [build("BATCH", f"+{ref}", "draft/chathistory-targets",
                         source=session.server.name)] if batched else []
            for when, room in latest[:limit]:
                out.append(build("CHATHISTORY", "TARGETS", f"#{room.name}",
                                 serverTime(when), source=session.server.name,
                                 tags={"batch": ref} if batched else None))
            if batched:
                out.append(build("BATCH", f"-{ref}", source=session.server.name))
            if out:
                session.answer(b"".join(out))

        return found.addCallback(show)


def selectorTime(text: str) -> float:
    kind, _, value = text.partition("=")
    if kind != "timestamp":
        raise Refused("INVALID_PARAMS", text, "TARGETS takes timestamp=TIME references")
    return parseTime(value)

