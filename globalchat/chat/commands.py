# -*- test-case-name: tests.test_chat_hub,tests.test_chat_history -*-
"""
What a line from a logged-in client means: a chat line, or a command.

Each command is one C{cmd_NAME} method of a group of commands (this
module's L{Commands}, the account commands, ...); L{Commands.dispatch}
finds it by name, so adding a command is adding a method (and its line in
its group's C{USAGE}).
Every command's answer ends with C{OK /NAME} or is an C{ERROR} line, and
every chat line is confirmed by its own copy, so a client can match each
line it sent with exactly one answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from globalchat.chat import wire
from globalchat.chat.errors import ChatError
from globalchat.chat.text import isCount

if TYPE_CHECKING:
    from globalchat.chat.bus import Room
    from globalchat.chat.hub import Hub
    from globalchat.chat.session import Session

#: The most messages one /history shows.
MAX_HISTORY = 1000

#: How many messages /history shows when not told, on a server that shows
#: joiners none (C{--backlog 0}).
DEFAULT_HISTORY = 20

#: Usage and description of every command, in the order /help lists them.
USAGE = {
    "join": ("/join ROOM [KEY]", "join ROOM (creating it) and make it your current room"),
    "part": ("/part [ROOM] [REASON]", "leave ROOM (default: the current room)"),
    "rooms": ("/rooms", "list the rooms with their member counts and topics"),
    "who": ("/who [ROOM]", "list the members of ROOM (default: the current room)"),
    "msg": ("/msg NAME TEXT", "send TEXT to NAME only (kept for NAME if they are away)"),
    "me": ("/me ACTION", "describe an action: * NAME ACTION"),
    "nick": ("/nick NEWNAME", "change your name"),
    "topic": ("/topic [TEXT]", "show, or set, the current room's topic"),
    "history": ("/history [ROOM] [N]", "show the last N messages of ROOM (default: the current room)"),
    "quit": ("/quit [REASON]", "leave the chat"),
    "help": ("/help [COMMAND]", "list the commands, or explain one"),
}


def usageError(usage: dict[str, tuple[str, str]], command: str) -> ChatError:
    """
    The error for a command used wrongly: how it is used.
    """
    return ChatError(f"usage: {usage[command][0]}")


def _usage(command: str) -> ChatError:
    return usageError(USAGE, command)


class Commands:
    """
    The commands, bound to one hub.
    """

    USAGE = USAGE

    def __init__(self, hub: Hub, *groups: object) -> None:
        """
        @param groups: more groups of commands, each with a C{USAGE} and
            C{cmd_NAME} methods.
        """
        self._hub = hub
        self._groups = (self, *groups)
        #: Every command's usage and description, in the order /help lists them.
        self.usage = {name: line for group in self._groups for name, line in group.USAGE.items()}

    def dispatch(self, session: Session, text: str, clientId: str | None = None) -> None:
        """
        Act on one non-blank line from C{session}, logged in.  Answers go
        through L{Session.reply}, or L{Session.waitFor} for those that wait.

        @param clientId: the client's own id for a message (C{@id=}).
        @raise ChatError: when the line is refused.
        """
        if text.startswith("//"):
            self._hub.say(session, text[1:], clientId=clientId)
            return
        if not text.startswith("/"):
            self._hub.say(session, text, clientId=clientId)
            return
        command, _, arguments = text[1:].partition(" ")
        handler = next(filter(None, (getattr(group, f"cmd_{command.lower()}", None)
                                     for group in self._groups)), None)
        if handler is None:
            raise ChatError(f"unknown command /{command}: see /help")
        if command.lower() in wire.MESSAGE_COMMANDS:
            handler(session, arguments.strip(), clientId)
        else:
            handler(session, arguments.strip())

    def _room(self, session: Session, name: str):
        if name:
            room = self._hub.room(name)
            if not self._hub.visible(session, room):
                raise ChatError(f"no room #{room.name}: /join it to create it")
            return room
        if session.current is None:
            raise ChatError("you are in no room: /join ROOM first")
        return session.current

    def cmd_join(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        if len(words) not in (1, 2):
            raise _usage("join")
        session.waitFor(self._hub.join(session, *words), wire.ok("join"))

    def cmd_history(self, session: Session, arguments: str) -> None:
        words = arguments.split()
        count = [w for w in words if isCount(w)]
        rooms = [w for w in words if not isCount(w)]
        if len(count) > 1 or len(rooms) > 1:
            raise _usage("history")
        limit = int(count[0]) if count else self._hub.backlog or DEFAULT_HISTORY
        if not 0 < limit <= MAX_HISTORY:
            raise ChatError(f"/history shows 1 to {MAX_HISTORY} messages")
        room = self._room(session, rooms[0] if rooms else "")
        if room not in session.rooms:
            # A room's history is its members' to read.
            raise ChatError(f"you are not in #{room.name}: /join it to see its history")
        session.waitFor(self._hub.showHistory(session, room, limit), wire.ok("history"))

    def cmd_part(self, session: Session, arguments: str) -> None:
        first, _, reason = arguments.partition(" ")
        if first.startswith("#") or (first and self._hub.bus.room(first) in session.rooms):
            room = self._hub.room(first)
        else:
            room, reason = self._room(session, ""), arguments
        self._hub.part(session, room, reason.strip())
        session.reply(wire.ok("part"))

    def cmd_rooms(self, session: Session, arguments: str) -> None:
        if arguments:
            raise _usage("rooms")

        def show(rooms: list[tuple[Room, int]]) -> None:
            for room, count in sorted(rooms, key=lambda r: r[0].name.casefold()):
                if self._hub.visible(session, room):
                    session.answer(wire.roomInfo(room.name, count, room.topic))

        session.waitFor(self._hub.bus.listRooms().addCallback(show), wire.ok("rooms"))

    def cmd_who(self, session: Session, arguments: str) -> None:
        if " " in arguments:
            raise _usage("who")
        room = self._room(session, arguments)
        listed = self._hub.bus.who(room).addCallback(
            lambda members: session.answer(wire.who(room.name, members)))
        session.waitFor(listed, wire.ok("who"))

    def cmd_msg(self, session: Session, arguments: str, clientId: str | None) -> None:
        target, _, text = arguments.partition(" ")
        if not target or not text.strip():
            raise _usage("msg")
        looking = self._hub.private(session, target, text.strip(), clientId)
        if looking is not None:
            session.waitFor(looking)

    def cmd_me(self, session: Session, arguments: str, clientId: str | None) -> None:
        if not arguments:
            raise _usage("me")
        self._hub.say(session, arguments, act=True, clientId=clientId)

    def cmd_nick(self, session: Session, arguments: str) -> None:
        if not arguments or " " in arguments:
            raise _usage("nick")
        session.waitFor(self._hub.rename(session, arguments), wire.ok("nick"))

    def cmd_topic(self, session: Session, arguments: str) -> None:
        room = self._room(session, "")
        if arguments:
            self._hub.setTopic(session, room, arguments)
        else:
            session.reply(wire.info(
                f"topic of #{room.name}: {room.topic}" if room.topic else f"#{room.name} has no topic"))
        session.reply(wire.ok("topic"))

    def cmd_quit(self, session: Session, arguments: str) -> None:
        self._hub.quit(session, arguments)
        session.reply(wire.ok("quit"))
        session.close()

    def cmd_help(self, session: Session, arguments: str) -> None:
        wanted = arguments.lstrip("/").lower()
        if wanted and wanted not in self.usage:
            raise ChatError(f"unknown command /{wanted}: see /help")
        for command in [wanted] if wanted else self.usage:
            usage, description = self.usage[command]
            session.reply(wire.info(f"{usage} - {description}"))
        if not wanted:
            session.reply(wire.info("// at the start of a line sends a line starting with /"))
        session.reply(wire.ok("help"))
