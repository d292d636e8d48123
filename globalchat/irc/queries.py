# -*- test-case-name: tests.test_irc_queries -*-
"""
The questions an IRC client asks about people and the server: WHO (and
WHOX), WHOIS, WHOWAS, ISON, USERHOST, MONITOR, AWAY, and LUSERS, MOTD,
VERSION and TIME.
"""

from __future__ import annotations

import time
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from globalchat.chat import names
from globalchat.irc import numerics as N
from globalchat.irc.channels import ChannelCommands, need
from globalchat.irc.message import Message, build
from globalchat.irc.server import AWAYLEN, REALNAMELEN

if TYPE_CHECKING:
    from globalchat.chat.bus import Room
    from globalchat.chat.hub import Hub
    from globalchat.irc.server import IRCServer
    from globalchat.irc.session import IRCSession

#: Most users one WHO lists (a mask of everybody on a big server).
MAX_WHO = 500

#: Most names one client may MONITOR (ISUPPORT MONITOR).
MAX_MONITOR = 100


class QueryCommands:
    """
    The query commands, bound to one hub.
    """

    def __init__(self, hub: Hub, server: IRCServer, channels: ChannelCommands) -> None:
        self._hub = hub
        self._server = server
        self._channels = channels

    def _flags(self, session: IRCSession, member, room: Room | None) -> str:
        flags = "G" if getattr(member, "away", None) is not None else "H"
        moderation = self._hub.moderation
        if moderation is not None and moderation.isOperator(member):
            flags += "*"
        if getattr(member, "bot", False):
            flags += "B"
        if room is not None:
            flags += self._channels.prefixes(session, room, member)
        return flags

    # -- WHO ---------------------------------------------------------------------

    def irc_WHO(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        mask = message.params[0]
        fields, token = None, ""
        if len(message.params) > 1 and message.params[1].startswith("%"):
            fields, _, token = message.params[1][1:].partition(",")
        for member, room in self._matches(session, mask)[:MAX_WHO]:
            if fields is None:
                user, host = self._server.userHost(member)
                session.numeric(N.RPL_WHOREPLY, f"#{room.name}" if room else "*", user, host,
                                self._server.name, member.name,
                                self._flags(session, member, room),
                                f"0 {getattr(member, 'realname', None) or member.name}")
            else:
                session.numeric(N.RPL_WHOSPCRPL, *self._whox(session, member, room, fields, token))
        session.numeric(N.RPL_ENDOFWHO, mask, "End of /WHO list")

    def _matches(self, session: IRCSession, mask: str) -> list:
        if mask.startswith("#"):
            room = self._hub.bus.room(mask)
            if room is None or (room not in session.rooms and not self._hub.visible(session, room)):
                return []
            return [(member, room) for member in room.members.values()]
        if mask == "0":
            mask = "*"
        if mask == "*":
            shared = {id(m) for r in session.rooms for m in r.members.values()}
            return [(m, None) for m in self._hub.bus if id(m) in shared or m is session]
        if "*" not in mask and "?" not in mask:
            holder = self._hub.bus.holder(mask)
            return [(holder, None)] if holder is not None else []
        # Everybody is invisible (+i): a mask finds only who shares a room.
        pattern = names.key(mask)
        shared = {id(m) for r in session.rooms for m in r.members.values()} | {id(session)}
        return [(m, None) for m in self._hub.bus
                if id(m) in shared and fnmatchcase(names.key(m.name), pattern)]

    def _whox(self, session: IRCSession, member, room: Room | None, fields: str,
              token: str) -> list[str]:
        user, host = self._server.userHost(member)
        account = member.name if member.account is not None else "0"
        values = {
            "t": token, "c": f"#{room.name}" if room else "*", "u": user, "i": "255.255.255.255",
            "h": host, "s": self._server.name, "n": member.name,
            "f": self._flags(session, member, room), "d": "0", "l": str(int(member.idle())),
            "a": account, "o": "n/a",
            "r": getattr(member, "realname", None) or member.name,
        }
        return [values[f] for f in "tcuihsnfdlaor" if f in fields]

    # -- WHOIS and WHOWAS ----------------------------------------------------------

    def irc_WHOIS(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        nick = message.params[-1]
        target = self._hub.bus.holder(nick) if nick else None
        if target is None:
            session.numeric(N.ERR_NOSUCHNICK, nick, "No such nick/channel")
            session.numeric(N.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
            return
        name = target.name
        user, host = self._server.userHost(target)
        session.numeric(N.RPL_WHOISUSER, name, user, host, "*",
                        getattr(target, "realname", None) or name)
        rooms = [self._channels.prefixes(session, room, target) + f"#{room.name}"
                 for room in target.rooms
                 if room in session.rooms or self._hub.visible(session, room)]
        if rooms:
            session.numeric(N.RPL_WHOISCHANNELS, name, " ".join(rooms))
        session.numeric(N.RPL_WHOISSERVER, name, self._server.name, "globalchat")
        moderation = self._hub.moderation
        if moderation is not None and moderation.isOperator(target):
            session.numeric(N.RPL_WHOISOPERATOR, name, "is an IRC operator")
        if target.account is not None:
            session.numeric(N.RPL_WHOISACCOUNT, name, name, "is logged in as")
        away = getattr(target, "away", None)
        if away is not None:
            session.numeric(N.RPL_AWAY, name, away)
        if getattr(target, "bot", False):
            session.numeric(N.RPL_WHOISBOT, name, "is a bot on globalchat")
        session.numeric(N.RPL_WHOISIDLE, name, str(int(target.idle())),
                        str(int(getattr(target, "signedOn", 0))), "seconds idle, signon time")
        session.numeric(N.RPL_ENDOFWHOIS, name, "End of /WHOIS list")

    def irc_WHOWAS(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        nick = message.params[0]
        count = message.params[1] if len(message.params) > 1 else ""
        entries = list(reversed(self._server.whowas.get(names.key(nick), [])))
        if count.isdigit() and int(count) > 0:
            entries = entries[:int(count)]
        if not entries:
            session.numeric(N.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
        for shown, user, host, realname in entries:
            session.numeric(N.RPL_WHOWASUSER, shown, user, host, "*", realname)
            session.numeric(N.RPL_WHOISSERVER, shown, self._server.name, "globalchat")
        session.numeric(N.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")

    # -- presence ------------------------------------------------------------------

    def irc_ISON(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        present = [holder.name for holder in map(self._hub.bus.holder,
                                                 " ".join(message.params).split())
                   if holder is not None]
        session.numeric(N.RPL_ISON, " ".join(present))

    def irc_USERHOST(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        found = []
        for nick in message.params[:5]:
            holder = self._hub.bus.holder(nick)
            if holder is not None:
                user, host = self._server.userHost(holder)
                oper = "*" if self._hub.moderation and self._hub.moderation.isOperator(holder) else ""
                away = "-" if getattr(holder, "away", None) is not None else "+"
                found.append(f"{holder.name}{oper}={away}{user}@{host}")
        session.numeric(N.RPL_USERHOST, " ".join(found))

    def irc_AWAY(self, session: IRCSession, message: Message) -> None:
        text = message.params[0][:AWAYLEN] if message.params else ""
        session.away = text or None
        if text:
            session.numeric(N.RPL_NOWAWAY, "You have been marked as being away")
        else:
            session.numeric(N.RPL_UNAWAY, "You are no longer marked as being away")
        line = build("AWAY", *([text] if text else []),
                     source=self._server.source(session.name))
        for member in self._server.followers(session, "away-notify"):
            member.send(line)

    def irc_MONITOR(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        sub = message.params[0]
        watched = session.monitoring = session.monitoring or set()
        targets = [t for t in (message.params[1] if len(message.params) > 1 else "").split(",")
                   if t]
        if sub == "+":
            online, offline = [], []
            for target in targets:
                if len(watched) >= MAX_MONITOR:
                    session.numeric(N.ERR_MONLISTFULL, str(MAX_MONITOR), target,
                                    "Monitor list is full")
                    break
                watched.add(names.key(target))
                self._server.monitor(session, names.key(target))
                holder = self._hub.bus.holder(target)
                if holder is not None:
                    online.append(self._server.source(holder.name))
                else:
                    offline.append(target)
            if online:
                session.numeric(N.RPL_MONONLINE, ",".join(online))
            if offline:
                session.numeric(N.RPL_MONOFFLINE, ",".join(offline))
        elif sub == "-":
            for target in targets:
                watched.discard(names.key(target))
                self._server.monitor(session, names.key(target), False)
        elif sub.upper() == "C":
            for key in list(watched):
                self._server.monitor(session, key, False)
            watched.clear()
        elif sub.upper() == "L":
            if watched:
                session.numeric(N.RPL_MONLIST, ",".join(sorted(watched)))
            session.numeric(N.RPL_ENDOFMONLIST, "End of MONITOR list")
        elif sub.upper() == "S":
            holders = [(key, self._hub.bus.holder(key)) for key in sorted(watched)]
            online = [self._server.source(h.name) for _, h in holders if h is not None]
            offline = [key for key, h in holders if h is None]
            if online:
                session.numeric(N.RPL_MONONLINE, ",".join(online))
            if offline:
                session.numeric(N.RPL_MONOFFLINE, ",".join(offline))

    # -- the server ------------------------------------------------------------------

    def irc_LUSERS(self, session: IRCSession, message: Message) -> None:
        for line in session.render.lusers(session.name):
            session.reply(line)

    def irc_MOTD(self, session: IRCSession, message: Message) -> None:
        session.reply(session.render.motd(session.name, self._hub.motd))

    def irc_VERSION(self, session: IRCSession, message: Message) -> None:
        session.numeric(N.RPL_VERSION, self._server.version, self._server.name,
                        "globalchat: one chat for line, web and IRC clients")
        for tokens in self._server.isupport():
            session.numeric(N.RPL_ISUPPORT, *tokens, "are supported by this server")

    def irc_SETNAME(self, session: IRCSession, message: Message) -> None:
        need(message, 1)
        session.realname = message.params[0][:REALNAMELEN]
        line = build("SETNAME", session.realname, source=self._server.source(session.name))
        for member in self._server.followers(session, "setname", itself=True):
            member.send(line)

    def irc_INFO(self, session: IRCSession, message: Message) -> None:
        for line in (f"{self._server.version}: one chat for line, web and IRC clients",
                     "https://modern.ircdocs.horse and IRCv3, over a Twisted hub"):
            session.numeric(N.RPL_INFO, line)
        session.numeric(N.RPL_ENDOFINFO, "End of /INFO list")

    def irc_TIME(self, session: IRCSession, message: Message) -> None:
        now = session.now()
        session.numeric(N.RPL_TIME, self._server.name, str(int(now)), "0",
                        time.strftime("%A %B %d %Y -- %H:%M:%S +00:00", time.gmtime(now)))

