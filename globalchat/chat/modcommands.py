# -*- test-case-name: tests.test_chat_moderation -*-
"""
The commands of operators and room keepers, and /ignore.

Server operators (C{--operators}, or C{globalchat-admin op}) kick, ban,
mute, disconnect and address everyone; a registered room's founder and
operators keep that room.  Every action is logged as a C{security}
event and kept for C{/audit}.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from globalchat.chat import names, wire
from globalchat.chat.commands import usageError
from globalchat.chat.errors import ChatError
from globalchat.chat.moderation import MODES, parseDuration, parseMask
from globalchat.chat.text import isCount

if TYPE_CHECKING:
    from globalchat.chat.bus import Room
    from globalchat.chat.hub import Hub
    from globalchat.chat.moderation import Moderation
    from globalchat.chat.session import Session

USAGE = {
    "room": ("/room register|info [ROOM]", "register a room (you become its founder), or "
                                          "show who keeps it"),
    "op": ("/op NAME [ROOM]", "make an account an operator of your room (founders)"),
    "deop": ("/deop NAME [ROOM]", "take a room operator's rights away (founders)"),
    "voice": ("/voice NAME [ROOM]", "let NAME speak in a moderated room (room operators)"),
    "devoice": ("/devoice NAME [ROOM]", "take NAME's voice away (room operators)"),
    "invite": ("/invite NAME [ROOM]", "let NAME into an invite-only room (room operators)"),
    "mode": ("/mode [ROOM] +i|-i|+k KEY|-k|+m|-m|+t|-t|+s|-s",
             "invite-only, key, moderated, topic lock, secret (room operators)"),
    "kick": ("/kick ROOM NAME [REASON]", "put NAME out of ROOM (room or server operators)"),
    "ban": ("/ban [#ROOM] MASK [DURATION] [REASON]",
            "ban an account, name, address or network (from ROOM: room operators; from the "
            "server: server operators); DURATION like 30m, 2h, 7d"),
    "unban": ("/unban [#ROOM] MASK", "lift a ban"),
    "bans": ("/bans [#ROOM]", "list the bans"),
    "mute": ("/mute NAME [DURATION]", "stop NAME speaking anywhere (server operators)"),
    "unmute": ("/unmute NAME", "let NAME speak again (server operators)"),
    "kill": ("/kill NAME [REASON]", "disconnect NAME (server operators)"),
    "wall": ("/wall TEXT", "a notice to everyone online (server operators)"),
    "audit": ("/audit [N]", "the last N moderation actions (server operators)"),
    "ignore": ("/ignore NAME", "stop getting NAME's lines and private messages"),
    "unignore": ("/unignore NAME", "get NAME's lines again"),
}


class ModerationCommands:
    """
    The moderation commands, bound to one hub.
    """

    USAGE = USAGE

    def __init__(self, hub: Hub, moderation: Moderation) -> None:
        self._hub = hub
        self._mod = moderation

    def _roomOf(self, session: Session, words: list[str]) -> Room:
        """
        The room a command names (its last word, with C{#}) or the current one.
        """
        if words and words[-1].startswith("#"):
            return self._hub.room(words.pop())
        if session.current is None:
            raise ChatError("you are in no room: name one")
        return session.current

    def _online(self, name: str) -> Session:
        target = self._hub.bus.holder(name)
        if target is None:
            raise ChatError(f"no one called {name} is online")
        return target

    def _account(self, name: str) -> str:
        key = names.key(names.checkName(name))
        if key not in self._mod.accounts:
            raise ChatError(f"{name} is not an account")
        return key

    def _changed(self, session: Session, room: Room, action: str, target: str,
                 **changes) -> None:
        self._mod.change(room.key, **changes)
        self._mod.audit(session, action, f"#{room.name} {target}".strip())
        session.reply(wire.ok(action))

    # -- rooms -------------------------------------------------------------

    def cmd_room(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        if not words or words[0] not in ("register", "info") or len(words) > 2:
            raise usageError(USAGE, "room")
        room = self._roomOf(session, words[1:])
        if words[0] == "register":
            if session.account is None:
                raise ChatError("only accounts can register rooms: /register first")
            if room not in session.rooms:
                raise ChatError(f"join #{room.name} first")
            self._mod.register(room.key, room.name, session.account, room.topic)
            self._mod.audit(session, "room-register", f"#{room.name}")
            session.reply(wire.info(f"#{room.name} is registered to you"))
            return session.reply(wire.ok("room"))
        record = self._mod.record(room.key)
        if record is None:
            session.reply(wire.info(f"#{room.name} is not registered"))
        else:
            modes = "".join(sorted(record.modes)) or "none"
            session.reply(wire.info(f"#{record.display}: founder {record.founder}; operators "
                                    f"{' '.join(record.ops) or 'none'}; modes {modes}"))
        session.reply(wire.ok("room"))

    def _grant(self, session: Session, arguments: str, command: str) -> None:
        words = arguments.split()
        if len(words) not in (1, 2):
            raise usageError(USAGE, command)
        room = self._roomOf(session, words[1:])
        record = self._mod.record(room.key)
        if record is None:
            raise ChatError(f"#{room.name} is not registered: /room register it first")
        if command in ("op", "deop"):
            if session.account != record.founder and not self._mod.isOperator(session):
                raise ChatError("only the room's founder may do that")
            key = self._account(words[0])
            if key == record.founder:
                raise ChatError("the founder is always an operator of the room")
            ops = set(record.ops) | {key} if command == "op" else set(record.ops) - {key}
            return self._changed(session, room, command, words[0], ops=tuple(sorted(ops)))
        self._mod.checkRoomOp(session, room.key)
        key = names.key(names.checkName(words[0]))
        field = "invited" if command == "invite" else "voices"
        current = set(getattr(record, field))
        current = current - {key} if command == "devoice" else current | {key}
        self._changed(session, room, command, words[0], **{field: tuple(sorted(current))})
        if command == "invite":
            target = self._hub.bus.holder(words[0])
            if target is not None:
                target.send(target.render.notice(f"{session.name} invites you to #{room.name}"))

    def cmd_op(self, session: Session, arguments: str) -> None:
        self._grant(session, arguments, "op")

    def cmd_deop(self, session: Session, arguments: str) -> None:
        self._grant(session, arguments, "deop")

    def cmd_voice(self, session: Session, arguments: str) -> None:
        self._grant(session, arguments, "voice")

    def cmd_devoice(self, session: Session, arguments: str) -> None:
        self._grant(session, arguments, "devoice")

    def cmd_invite(self, session: Session, arguments: str) -> None:
        self._grant(session, arguments, "invite")

    def cmd_mode(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        room = self._roomOf(session, words[:1]) if words[:1] and words[0].startswith("#") \
            else self._roomOf(session, [])
        if words and words[0].startswith("#"):
            words = words[1:]
        if not words or len(words[0]) != 2 or words[0][0] not in "+-" \
                or words[0][1] not in MODES or len(words) != (2 if words[0] == "+k" else 1):
            raise usageError(USAGE, "mode")
        self._mod.checkRoomOp(session, room.key)
        record = self._mod.record(room.key)
        if record is None:
            raise ChatError(f"#{room.name} is not registered: /room register it first")
        sign, letter = words[0]
        modes = set(record.modes) | {letter} if sign == "+" else set(record.modes) - {letter}
        roomKey = words[1] if words[0] == "+k" else (None if letter == "k" else record.roomKey)
        self._changed(session, room, "mode", words[0], modes="".join(sorted(modes)),
                      roomKey=roomKey)

    # -- people --------------------------------------------------------------

    def cmd_kick(self, session: Session, arguments: str) -> None:
        words = arguments.split(" ", 2)
        if len(words) < 2:
            raise usageError(USAGE, "kick")
        room = self._hub.room(words[0])
        self._mod.checkRoomOp(session, room.key)
        target = self._online(words[1])
        if room not in target.rooms:
            raise ChatError(f"{target.name} is not in #{room.name}")
        reason = words[2] if len(words) > 2 else ""
        self._kick(session, room, target, reason)
        session.reply(wire.ok("kick"))

    def _kick(self, session: Session, room: Room, target: Session, reason: str) -> None:
        self._hub.part(target, room, reason, by=session)
        self._mod.audit(session, "kick", f"#{room.name} {target.name}", reason)

    def cmd_ban(self, session: Session, arguments: str) -> None:
        words = arguments.split(" ")
        room = self._hub.room(words.pop(0)) if words[0].startswith("#") else None
        if not words or not words[0]:
            raise usageError(USAGE, "ban")
        mask, kind = parseMask(words.pop(0), self._mod.accounts)
        duration = parseDuration(words.pop(0)) if words and words[0][:1].isdigit() else None
        reason = " ".join(words)
        if self._mod.matches(mask, kind, session):
            raise ChatError("you cannot ban yourself")
        if room is None:
            self._mod.checkOperator(session)
            if kind == "account" and mask in self._mod.operators:
                raise ChatError("an operator cannot be banned: ask to have them removed first")
            ban = self._mod.ban(mask, kind, duration, reason, session.account)
            for target in list(self._hub.bus):
                if self._mod.matches(ban.mask, ban.kind, target):
                    self._disconnect(target, "you are banned from this server"
                                     + (f": {reason}" if reason else ""), "banned")
            self._mod.audit(session, "ban", mask, reason)
        else:
            self._mod.checkRoomOp(session, room.key)
            record = self._mod.record(room.key)
            if record is not None and mask == record.founder:
                raise ChatError("the room's founder cannot be banned from it")
            self._mod.ban(f"#{room.key} {mask}", kind, duration, reason, session.account or "")
            for target in list(room.members.values()):
                if mask in (target.account, names.key(target.name)):
                    self._kick(session, room, target, reason or "banned")
            self._mod.audit(session, "ban", f"#{room.name} {mask}", reason)
        session.reply(wire.ok("ban"))

    def cmd_unban(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        if len(words) not in (1, 2) or (len(words) == 2 and not words[0].startswith("#")):
            raise usageError(USAGE, "unban")
        if len(words) == 2:
            room = self._hub.room(words[0])
            self._mod.checkRoomOp(session, room.key)
            mask = f"#{room.key} {parseMask(words[1], self._mod.accounts)[0]}"
        else:
            self._mod.checkOperator(session)
            mask = parseMask(words[0], self._mod.accounts)[0]
        if not self._mod.unban(mask):
            raise ChatError(f"there is no ban on {words[-1]}")
        self._mod.audit(session, "unban", mask)
        session.reply(wire.ok("unban"))

    def cmd_bans(self, session: Session, arguments: str) -> None:
        if arguments:
            room = self._hub.room(arguments)
            self._mod.checkRoomOp(session, room.key)
            prefix = f"#{room.key} "
        else:
            self._mod.checkOperator(session)
            prefix = ""
        for ban in self._mod.bans():
            if ban.mask.startswith("#") == bool(prefix) and ban.mask.startswith(prefix):
                until = ("for ever" if ban.until is None else
                         time.strftime("until %Y-%m-%dT%H:%MZ", time.gmtime(ban.until)))
                session.reply(wire.info(f"ban {ban.mask[len(prefix):]} ({ban.kind}) {until}"
                                        + (f": {ban.reason}" if ban.reason else "")))
        session.reply(wire.ok("bans"))

    def cmd_mute(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        if len(words) not in (1, 2):
            raise usageError(USAGE, "mute")
        self._mod.checkOperator(session)
        target = self._online(words[0])
        if target is session:
            raise ChatError("you cannot mute yourself")
        self._mod.mute(target.name, parseDuration(words[1]) if len(words) == 2 else None)
        target.send(target.render.notice(f"{session.name} muted you"))
        self._mod.audit(session, "mute", target.name)
        session.reply(wire.ok("mute"))

    def cmd_unmute(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise usageError(USAGE, "unmute")
        self._mod.checkOperator(session)
        if not self._mod.unmute(arguments):
            raise ChatError(f"{arguments} is not muted")
        self._mod.audit(session, "unmute", arguments)
        session.reply(wire.ok("unmute"))

    def cmd_kill(self, session: Session, arguments: str) -> None:
        name, _, reason = arguments.partition(" ")
        if not name:
            raise usageError(USAGE, "kill")
        self._mod.checkOperator(session)
        target = self._online(name)
        if target is session:
            raise ChatError("you cannot disconnect yourself this way: /quit")
        self._disconnect(target, f"disconnected by {session.name}"
                         + (f": {reason}" if reason else ""), f"disconnected by {session.name}")
        self._mod.audit(session, "kill", target.name, reason)
        session.reply(wire.ok("kill"))

    def _disconnect(self, target: Session, why: str, quit: str) -> None:
        """
        End C{target}'s connection now, telling it C{why} and the others
        that it quit: its name is free at once.
        """
        self._hub.quit(target, quit)
        target.closeWith(target.render.error(why))

    def cmd_wall(self, session: Session, arguments: str) -> None:
        if not arguments:
            raise usageError(USAGE, "wall")
        self._mod.checkOperator(session)
        notice = f"notice from {session.name}: {arguments}"
        for target in self._hub.bus:
            target.send(target.render.notice(notice))
        self._mod.audit(session, "wall", "everyone", arguments)
        session.reply(wire.ok("wall"))

    def cmd_audit(self, session: Session, arguments: str) -> None:
        if arguments and not isCount(arguments):
            raise usageError(USAGE, "audit")
        self._mod.checkOperator(session)
        limit = min(int(arguments or 20), 1000)

        def show(events) -> None:
            for event in events:
                when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(event.time))
                session.answer(wire.info(f"{when} {event.actor} {event.action} {event.target}"
                                         + (f": {event.reason}" if event.reason else "")))

        session.waitFor(self._mod.auditLog(limit).addCallback(show), wire.ok("audit"))

    def cmd_ignore(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise usageError(USAGE, "ignore")
        key = names.key(names.checkName(arguments))
        if key == names.key(session.name):
            raise ChatError("you cannot ignore yourself")
        session.ignore(key)
        session.reply(wire.ok("ignore"))

    def cmd_unignore(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise usageError(USAGE, "unignore")
        if not session.ignore(names.key(arguments), False):
            raise ChatError(f"you are not ignoring {arguments}")
        session.reply(wire.ok("unignore"))
