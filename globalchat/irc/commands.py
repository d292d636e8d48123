# -*- test-case-name: tests.test_irc_session -*-
"""
What an IRC command means: one C{irc_COMMAND} method in one of the
groups (registration, channels, messages, queries, modes, history),
found by name, as L{globalchat.chat.commands} does for the line protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from globalchat.irc import numerics as N
from globalchat.irc.errors import IRCError
from globalchat.irc.message import Message

if TYPE_CHECKING:
    from globalchat.irc.session import IRCSession


class IRCCommands:
    """
    Every IRC command the server knows, in groups.
    """

    def __init__(self, registration, *groups: object) -> None:
        self._registration = registration
        self._groups = (registration, *groups)
        self._handlers = {name[4:]: getattr(group, name) for group in reversed(self._groups)
                          for name in dir(group) if name.startswith("irc_")}

    @property
    def names(self) -> list[str]:
        """
        The commands, sorted.
        """
        return sorted(self._handlers)

    def dispatch(self, session: IRCSession, message: Message) -> None:
        """
        Act on one message.

        @raise IRCError: the numeric to answer with.
        @raise ChatError: a refusal of the hub's.
        """
        command = message.command
        handler = self._handlers.get(command)
        if not session.welcomed and command not in self._registration.UNREGISTERED:
            if handler is None or command == "NOTICE":
                return
            raise IRCError(N.ERR_NOTREGISTERED, "You have not registered")
        if handler is None:
            raise IRCError(N.ERR_UNKNOWNCOMMAND, command, "Unknown command")
        handler(session, message)
