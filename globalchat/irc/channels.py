# -*- test-case-name: tests.test_irc_session -*-
"""
The channel commands: JOIN, PART, TOPIC, NAMES, LIST, KICK and INVITE,
each a call to the hub answered with the numerics IRC clients expect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.irc import numerics as N
from globalchat.irc.errors import IRCError
from globalchat.irc.message import Message, build
from globalchat.irc.server import KICKLEN, TOPICLEN

if TYPE_CHECKING:
    from globalchat.chat.bus import Room
    from globalchat.chat.hub import Hub
    from globalchat.irc.session import IRCSession

#: Most nicks one KICK puts out (TARGMAX).
MAX_KICKS = 4

#: Room for the names of one RPL_NAMREPLY.
_NAMES_ROOM = 400


def need(message: Message, count: int) -> None:
    """
    @raise IRCError: ERR_NEEDMOREPARAMS when C{message} has fewer than
        C{count} parameters.
    """
    if len(message.params) < count or not message.params[count - 1]:
        raise IRCError(N.ERR_NEEDMOREPARAMS, message.command, "Not enough parameters")


class ChannelCommands:
    """
    The channel commands, bound to one hub.
    """

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    # -- finding rooms ---------------------------------------------------------

    def room(self, session: IRCSession, channel: str) -> Room:
        """
        The existing room C{channel} names, if C{session} may see it.

        @raise IRCError: ERR_NOSUCHCHANNEL.
        """
        room = self._hub.bus.room(channel) if channel.startswith("#") else None
        if room is None or not self._hub.visible(session, room):
            raise IRCError(N.ERR_NOSUCHCHANNEL, channel, "No such channel")
        return room

    def member(self, session: IRCSession, channel: str) -> Room:
        """
        The room C{channel} names, which C{session} is in.

        @raise IRCError: ERR_NOSUCHCHANNEL or ERR_NOTONCHANNEL.
        """
        room = self.room(session, channel)
        if room not in session.rooms:
            raise IRCError(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        return room

    def prefixes(self, session: IRCSession, room: Room, member) -> str:
        """
        The status prefixes of C{member} in C{room} (C{@}, C{+}), all of
        them with multi-prefix, else the highest.
        """
        moderation = self._hub.moderation
        if moderation is None:
            return ""
        found = ("@" if moderation.isRoomOp(member, room.key) else "") + (
            "+" if moderation.hasVoice(member, room.key) else "")
        return found if "multi-prefix" in session.caps else found[:1]

    # -- JOIN and PART ---------------------------------------------------------

    def irc_JOIN(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        if message.params[0] == "0":
            for room in list(session.rooms):
                self._hub.part(session, room, "")
            return
        channels = message.params[0].split(",")
        keys = message.params[1].split(",") if len(message.params) > 1 else []
        for i, channel in enumerate(channels):
            try:
                self._join(session, channel, keys[i] if i < len(keys) and keys[i] else None)
            except IRCError as e:
                session.numeric(e.code, *e.params)
            except ChatError as e:
                session.refuse(e, channel)

    def _join(self, session: IRCSession, channel: str, key: str | None) -> None:
        if not channel.startswith("#"):
            raise IRCError(N.ERR_NOSUCHCHANNEL, channel, "No such channel")
        names.checkRoom(channel)
        if self._hub.bus.room(channel) in session.rooms:
            return

        def joined(_: None) -> Deferred[None] | None:
            room = self._hub.bus.room(channel)
            if room is None or room not in session.rooms:
                return None
            if len(room.members) == 1:
                session.server.roomMade(room.key)
            if room.topic:
                self.showTopic(session, room)
            self.names(session, room)
            self._awayOnJoin(session, room)
            if self._hub.backlog and "draft/chathistory" not in session.caps:
                return self._hub.showHistory(session, room, self._hub.backlog)
            return None

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            session.refuse(failure.value, channel)

        d = self._hub.join(session, channel, key, backlog=False)
        session.waitFor(d.addCallback(joined).addErrback(refused))

    def irc_PART(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        reason = message.params[1] if len(message.params) > 1 else ""
        for channel in message.params[0].split(","):
            try:
                self._hub.part(session, self.member(session, channel), reason)
            except IRCError as e:
                session.numeric(e.code, *e.params)

    # -- what a channel is -----------------------------------------------------

    def irc_TOPIC(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        channel = message.params[0]
        room = self.room(session, channel)
        if len(message.params) == 1:
            if room not in session.rooms and self._secret(room):
                raise IRCError(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            if room.topic:
                self.showTopic(session, room)
            else:
                session.numeric(N.RPL_NOTOPIC, f"#{room.name}", "No topic is set")
            return
        if room not in session.rooms:
            raise IRCError(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        self._hub.setTopic(session, room, message.params[1][:TOPICLEN])
        session.server.topicSet(room.key, session.name)

    def showTopic(self, session: IRCSession, room: Room) -> None:
        """
        RPL_TOPIC and RPL_TOPICWHOTIME for C{room}.
        """
        setter, when = session.server.topicOf(room.key)
        session.numeric(N.RPL_TOPIC, f"#{room.name}", room.topic)
        session.numeric(N.RPL_TOPICWHOTIME, f"#{room.name}", setter, str(int(when)))

    def _awayOnJoin(self, session: IRCSession, room: Room) -> None:
        """
        An away user joined: tell the members that follow away-notify.
        """
        if session.away is None:
            return
        line = build("AWAY", session.away, source=session.server.source(session.name))
        for member in room.members.values():
            if member is not session and "away-notify" in getattr(member, "caps", ()):
                member.send(line)

    def _secret(self, room: Room) -> bool:
        moderation = self._hub.moderation
        record = moderation.channel(room.key) if moderation is not None else None
        return record is not None and "s" in record.modes

    def names(self, session: IRCSession, room: Room) -> None:
        """
        RPL_NAMREPLY (in lines that fit) and RPL_ENDOFNAMES for C{room}.
        """
        symbol = "@" if self._secret(room) else "="
        full = "userhost-in-names" in session.caps
        shown = [self.prefixes(session, room, member) + (
            session.server.source(member.name) if full else member.name)
                 for member in room.members.values()]
        line: list[str] = []
        size = 0
        for name in shown:
            if line and size + len(name.encode("utf-8")) + 1 > _NAMES_ROOM:
                session.numeric(N.RPL_NAMREPLY, symbol, f"#{room.name}", " ".join(line))
                line, size = [], 0
            line.append(name)
            size += len(name.encode("utf-8")) + 1
        if line:
            session.numeric(N.RPL_NAMREPLY, symbol, f"#{room.name}", " ".join(line))
        session.numeric(N.RPL_ENDOFNAMES, f"#{room.name}", "End of /NAMES list")

    def irc_NAMES(self, session: IRCSession, message: Message) -> None:
        if not message.params:
            session.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
            return
        for channel in message.params[0].split(","):
            room = self._hub.bus.room(channel) if channel.startswith("#") else None
            if room is None or not (room in session.rooms or not self._secret(room)):
                session.numeric(N.RPL_ENDOFNAMES, channel, "End of /NAMES list")
            else:
                self.names(session, room)

    def irc_LIST(self, session: IRCSession, message: Message) -> None:
        wanted = None
        if message.params and message.params[0].startswith("#"):
            wanted = {names.key(c.lstrip("#")) for c in message.params[0].split(",")}
        session.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")
        for room in sorted(self._hub.bus.rooms(), key=lambda r: r.key):
            if wanted is not None and room.key not in wanted:
                continue
            if room not in session.rooms and (self._secret(room)
                                              or not self._hub.visible(session, room)):
                continue
            session.numeric(N.RPL_LIST, f"#{room.name}", str(len(room.members)), room.topic)
        session.numeric(N.RPL_LISTEND, "End of /LIST")

    # -- people in a channel ---------------------------------------------------

    def irc_KICK(self, session: IRCSession, message: Message) -> None:
        need(message, 2)
        channels, nicks = message.params[0].split(","), message.params[1].split(",")[:MAX_KICKS]
        if len(channels) != 1 and len(channels) != len(nicks):
            raise IRCError(N.ERR_NEEDMOREPARAMS, "KICK", "One channel, or one for each nick")
        reason = message.params[2][:KICKLEN] if len(message.params) > 2 else ""
        for i, nick in enumerate(nicks):
            try:
                self._kick(session, channels[i if len(channels) > 1 else 0], nick, reason)
            except IRCError as e:
                session.numeric(e.code, *e.params)

    def _kick(self, session: IRCSession, channel: str, nick: str, reason: str) -> None:
        room = self.room(session, channel)
        moderation = self._hub.moderation
        if room not in session.rooms and not (moderation and moderation.isOperator(session)):
            raise IRCError(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")
        if moderation is None or not moderation.isRoomOp(session, room.key):
            raise IRCError(N.ERR_CHANOPRIVSNEEDED, f"#{room.name}", "You're not channel operator")
        target = self._hub.bus.holder(nick)
        if target is None or room not in target.rooms:
            raise IRCError(N.ERR_USERNOTINCHANNEL, nick, f"#{room.name}",
                           "They aren't on that channel")
        self._hub.part(target, room, reason, by=session)
        moderation.audit(session, "kick", f"#{room.name} {target.name}", reason)

    def irc_INVITE(self, session: IRCSession, message: Message) -> None:
        need(message, 2)
        nick, channel = message.params[0], message.params[1]
        target = self._hub.bus.holder(nick)
        if target is None:
            raise IRCError(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        room = self._hub.bus.room(channel) if channel.startswith("#") else None
        moderation = self._hub.moderation
        if room is not None:
            if room not in session.rooms:
                raise IRCError(N.ERR_NOTONCHANNEL, channel, "You're not on that channel")
            if room in target.rooms:
                raise IRCError(N.ERR_USERONCHANNEL, target.name, channel,
                               "is already on channel")
            record = moderation.channel(room.key) if moderation is not None else None
            if record is not None and "i" in record.modes:
                if not moderation.isRoomOp(session, room.key):
                    raise IRCError(N.ERR_CHANOPRIVSNEEDED, channel, "You're not channel operator")
            if moderation is not None:
                moderation.invite(room.key, target.name)
        session.numeric(N.RPL_INVITING, target.name, channel)
        shown = f"#{room.name}" if room is not None else channel
        if hasattr(target, "caps"):
            target.send(build("INVITE", target.name, shown,
                              source=session.server.source(session.name)))
        else:
            target.send(target.render.notice(f"{session.name} invites you to {shown}"))
