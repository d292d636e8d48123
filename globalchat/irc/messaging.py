# -*- test-case-name: tests.test_irc_session -*-
"""
PRIVMSG and NOTICE: messages to channels and to users, stored like every
other message before anybody sees them.

An action (CTCP ACTION) is the chat's action; IRC formatting codes
(bold, colours...) are taken out, since the chat's other clients show
text as it is; other CTCP queries are not passed on, as nobody but an
IRC client could answer them.  A NOTICE is never answered with an error.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from twisted.python.failure import Failure

from globalchat.chat.errors import ChatError
from globalchat.chat.text import ControlCharacters, checkText
from globalchat.irc import numerics as N
from globalchat.irc.errors import IRCError
from globalchat.irc.message import Message, build

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.irc.session import IRCSession

#: Bold, italics, underline, strike-through, monospace, reverse, reset
#: and colours (mIRC and hex).
_FORMATTING = re.compile(
    "[\x02\x1d\x1f\x1e\x11\x16\x0f]|\x03(?:[0-9]{1,2}(?:,[0-9]{1,2})?)?"
    "|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?")

#: Ids of TAGMSGs, which are not stored (so have no message id).
_TAGMSGS = itertools.count(1)

#: Most targets of one PRIVMSG or NOTICE (TARGMAX).
MAX_TARGETS = 4


def stripFormatting(text: str) -> str:
    return _FORMATTING.sub("", text)


def readText(text: str) -> tuple[str, bool] | None:
    """
    The text to send and whether it is an action; C{None} for a CTCP
    query other than ACTION.
    """
    act = False
    if text.startswith("\x01"):
        body = text[1:].rstrip("\x01")
        verb, _, rest = body.partition(" ")
        if verb.upper() != "ACTION":
            return None
        text, act = rest, True
    return stripFormatting(text), act


class MessageCommands:
    """
    PRIVMSG and NOTICE, bound to one hub.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def irc_PRIVMSG(self, session: IRCSession, message: Message) -> None:
        self._send(session, message, notice=False)

    def irc_NOTICE(self, session: IRCSession, message: Message) -> None:
        self._send(session, message, notice=True)

    def irc_TAGMSG(self, session: IRCSession, message: Message) -> None:
        """
        Client-only tags with no text (typing notifications, reactions):
        nothing to store, so passed on at once to the message-tags clients
        the target reaches on this server.
        """
        if not message.params or not message.params[0]:
            raise IRCError(N.ERR_NORECIPIENT, "No recipient given (TAGMSG)")
        tags = {k: v for k, v in message.tags.items() if k.startswith("+")}
        target = message.params[0]
        if target.startswith("#"):
            room = self._hub.bus.room(target)
            if room is None or not self._hub.visible(session, room):
                raise IRCError(N.ERR_NOSUCHCHANNEL, target, "No such channel")
            if room not in session.rooms:
                raise IRCError(N.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
            shown, recipients = f"#{room.name}", list(room.members.values())
        else:
            holder = self._hub.bus.holder(target)
            if holder is None:
                raise IRCError(N.ERR_NOSUCHNICK, target, "No such nick/channel")
            shown, recipients = holder.name, [holder]
        tags["msgid"] = f"tag-{next(_TAGMSGS)}"
        line = build("TAGMSG", shown, source=session.server.source(session.name), tags=tags)
        for recipient in recipients:
            if recipient is not session and "message-tags" in getattr(recipient, "caps", ()):
                # A delivery (with an id: never taken for an answer).
                recipient.send(line, 0)
        if session in recipients and not target.startswith("#"):
            # To itself: a delivery besides the echo.
            session.send(line, 0)
        if "echo-message" in session.caps:
            session.send(line)

    def _send(self, session: IRCSession, message: Message, notice: bool) -> None:
        params = message.params
        if not params or not params[0]:
            raise IRCError(N.ERR_NORECIPIENT, f"No recipient given ({message.command})")
        if len(params) < 2 or not params[1]:
            raise IRCError(N.ERR_NOTEXTTOSEND, "No text to send")
        read = readText(params[1])
        if read is None:
            return
        text, act = read
        if not text.strip():
            return
        try:
            checkText(text)
        except ControlCharacters:
            if not notice:
                session.drop("control", "control characters are not allowed")
            return
        tags = {k: v for k, v in message.tags.items() if k.startswith("+")} or None
        for target in params[0].split(",")[:MAX_TARGETS]:
            try:
                if target.startswith("#"):
                    self._toRoom(session, target, text, act, notice, tags)
                else:
                    self._toUser(session, target, text, act, notice, tags)
            except IRCError as e:
                if not notice:
                    session.numeric(e.code, *e.params)
            except ChatError as e:
                if not notice:
                    session.refuse(e, target)

    def _toRoom(self, session: IRCSession, target: str, text: str, act: bool,
                notice: bool, tags: dict[str, str] | None) -> None:
        room = self._hub.bus.room(target)
        if room is None or not self._hub.visible(session, room):
            raise IRCError(N.ERR_NOSUCHCHANNEL, target, "No such channel")
        moderation = self._hub.moderation
        if room not in session.rooms and not (moderation and moderation.allowsOutsiders(room.key)):
            raise IRCError(N.ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")
        self._hub.say(session, text, act=act, room=room, notice=notice and not act, tags=tags)

    def _toUser(self, session: IRCSession, target: str, text: str, act: bool,
                notice: bool, tags: dict[str, str] | None) -> None:
        holder = self._hub.bus.holder(target)
        kind = "privact" if act else "privnotice" if notice else "priv"
        looking = self._hub.private(session, target, text, kind=kind, tags=tags)
        if looking is not None:
            def refused(failure: Failure) -> None:
                failure.trap(ChatError)
                if not notice:
                    session.refuse(failure.value, target)

            session.waitFor(looking.addErrback(refused))
        away = getattr(holder, "away", None)
        if away is not None and not notice:
            session.numeric(N.RPL_AWAY, holder.name, away)
