# -*- test-case-name: tests.test_irc_session -*-
"""
What every IRC connection of one server shares: the server's name and
what it tells clients it supports (ISUPPORT), the renderers, and how a
name is shown as an IRC source (C{nick!user@host}).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Callable, Iterable

from twisted.internet.interfaces import IReactorTime

from zope.interface import implementer

from globalchat import __version__
from globalchat.chat import names
from globalchat.chat.presence import IPresenceWatcher
from globalchat.irc import numerics as N
from globalchat.irc.message import build
from globalchat.irc.render import RENDER_CAPS, IRCRender

if TYPE_CHECKING:
    from globalchat.chat.hub import Hub
    from globalchat.chat.session import Session

#: The server's name in the sources of its own messages: it has a dot,
#: so that no client takes it for a nick.
DEFAULT_NAME = "irc.globalchat"

#: Longest topic, away message and kick reason an IRC client may set:
#: what fits a 512-byte line with the longest source and target.
TOPICLEN = 300
AWAYLEN = 300
KICKLEN = 300
USERLEN = 16
REALNAMELEN = 100

#: How many rooms' topic setters and creation times are remembered.
KEPT_ROOMS = 10_000

#: How many names WHOWAS remembers.
WHOWAS_KEPT = 1000

#: Hosts shown for users, by the kind of port they came through: nobody's
#: address is shown to other users.
_HOSTS = {"irc": "irc.users.globalchat", "web": "web.users.globalchat"}
_LINE_HOST = "line.users.globalchat"


@implementer(IPresenceWatcher)
class IRCServer:
    """
    The IRC side of one hub.

    @ivar hub: the chat.
    @ivar name: the server's name, the source of its numerics.
    @ivar version: what RPL_YOURHOST and VERSION say it runs.
    @ivar created: when it started, as RPL_CREATED says it.
    @ivar whowas: the last known C{(nick, user, host, realname)} of names
        that left, newest last, by name key.
    """

    userModes = "Biow"
    channelModes = "iklmnostv"
    paramModes = "klov"

    def __init__(self, hub: Hub, clock: IReactorTime, name: str = DEFAULT_NAME,
                 connections: Callable[[], int] | None = None) -> None:
        """
        @param connections: how many connections there are, logged in or not.
        """
        self.hub = hub
        self._connections = connections
        self.name = name
        self.clock = clock
        self.version = f"globalchat-{__version__}"
        self.started = clock.seconds()
        self.created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.started))
        self._renders: dict[frozenset[str], IRCRender] = {}
        self.whowas: OrderedDict[str, list[tuple[str, str, str, str]]] = OrderedDict()
        #: The sessions that MONITOR each name key.
        self._monitors: dict[str, set[Session]] = {}
        #: The most users online at once.
        self.maxUsers = 0
        #: Who set each room's topic and when, and when rooms were made, as
        #: far as this server saw (the newest L{KEPT_ROOMS}).
        self._topics: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._created: OrderedDict[str, float] = OrderedDict()

    def render(self, caps: Iterable[str]) -> IRCRender:
        """
        The renderer shared by the clients with these capabilities.
        """
        key = frozenset(caps) & RENDER_CAPS
        render = self._renders.get(key)
        if render is None:
            render = self._renders[key] = IRCRender(self, key)
        return render

    def isupport(self) -> list[list[str]]:
        """
        The RPL_ISUPPORT tokens, in lines of at most 12: only what the
        server does, with the limits it enforces.
        """
        hub = self.hub
        tokens = [
            f"AWAYLEN={AWAYLEN}",
            "BOT=B",
            # Names are compared after PRECIS UsernameCaseMapped (RFC 8265).
            "CASEMAPPING=rfc8265",
            "CHATHISTORY=100",
            f"CHANLIMIT=#:{hub.roomsPerUser}",
            "CHANMODES=b,k,l,imnst",
            f"CHANNELLEN={names.MAX_NAME + 1}",
            "CHANTYPES=#",
            "ELIST=",
            "HOSTLEN=64",
            f"KICKLEN={KICKLEN}",
            "MAXLIST=b:100",
            "MODES=4",
            "MSGREFTYPES=msgid,timestamp",
            "MONITOR=100",
            "NETWORK=globalchat",
            f"NICKLEN={names.MAX_NAME}",
            "PREFIX=(ov)@+",
            "SAFELIST",
            "TARGMAX=PRIVMSG:4,NOTICE:4,TAGMSG:1,JOIN:,PART:,NAMES:1,WHOIS:1,KICK:4",
            f"TOPICLEN={TOPICLEN}",
            f"USERLEN={USERLEN}",
            "UTF8ONLY",
            "WHOX",
        ]
        return [tokens[i:i + 12] for i in range(0, len(tokens), 12)]

    def _keep(self, table: OrderedDict, key: str, value) -> None:
        table.pop(key, None)
        table[key] = value
        while len(table) > KEPT_ROOMS:
            table.popitem(last=False)

    def topicSet(self, roomKey: str, setter: str) -> None:
        self._keep(self._topics, roomKey, (setter, self.clock.seconds()))

    def topicOf(self, roomKey: str) -> tuple[str, float]:
        """
        Who set the room's topic and when (the server and its start, when
        it was set before, or elsewhere).
        """
        return self._topics.get(roomKey, (self.name, self.started))

    def roomMade(self, roomKey: str) -> None:
        self._keep(self._created, roomKey, self.clock.seconds())

    def createdAt(self, roomKey: str) -> float:
        return self._created.get(roomKey, self.started)

    def unregistered(self) -> int:
        """
        Connections that have not logged in (yet).
        """
        if self._connections is None:
            return 0
        return max(0, self._connections() - len(self.hub.names))

    def counts(self) -> tuple[int, int, int]:
        """
        Users online, operators among them, and rooms.
        """
        sessions = list(self.hub.bus)
        moderation = self.hub.moderation
        operators = sum(1 for s in sessions if moderation is not None
                        and moderation.isOperator(s) and getattr(s, "oper", True))
        return len(sessions), operators, len(self.hub.bus.rooms())

    def userHost(self, session: Session) -> tuple[str, str]:
        """
        The user and host C{session} is shown with.
        """
        user = getattr(session, "username", None) or "~" + session.name[:USERLEN - 1]
        kind = session.connection.kind
        return user, _HOSTS.get(kind, _LINE_HOST)

    def source(self, name: str, shownAs: str | None = None) -> str:
        """
        C{nick!user@host} for the user called C{name} (shown as
        C{shownAs}, its old name in a NICK), whatever protocol it uses.
        """
        holder = self.hub.bus.holder(name)
        if holder is None:
            gone = self.whowas.get(names.key(name))
            user, host = (gone[-1][1], gone[-1][2]) if gone else ("~" + name[:USERLEN - 1],
                                                                   _LINE_HOST)
        else:
            user, host = self.userHost(holder)
        return f"{shownAs or name}!{user}@{host}"

    def isBot(self, name: str) -> bool:
        """
        Whether the user called C{name} marked itself a bot (mode B).
        """
        return getattr(self.hub.bus.holder(name), "bot", False)

    def accountAndRealname(self, name: str) -> tuple[str | None, str]:
        """
        The account (as displayed) and real name of the user called C{name}.
        """
        holder = self.hub.bus.holder(name)
        if holder is None:
            return None, name
        account = holder.name if holder.account is not None else None
        return account, getattr(holder, "realname", None) or holder.name

    # -- following names ---------------------------------------------------------

    def monitor(self, session: Session, key: str, watching: bool = True) -> None:
        """
        Start (or stop) telling C{session} when the name C{key} comes and goes.
        """
        if watching:
            self._monitors.setdefault(key, set()).add(session)
            return
        watchers = self._monitors.get(key)
        if watchers is not None:
            watchers.discard(session)
            if not watchers:
                del self._monitors[key]

    def _tellMonitors(self, name: str, online: bool) -> None:
        for watcher in list(self._monitors.get(names.key(name), ())):
            if online:
                watcher.send(build(N.RPL_MONONLINE, watcher.name or "*", self.source(name),
                                   source=self.name))
            else:
                watcher.send(build(N.RPL_MONOFFLINE, watcher.name or "*", name,
                                   source=self.name))

    def loggedIn(self, session: Session) -> None:
        self.maxUsers = max(self.maxUsers, len(self.hub.names))
        self._tellMonitors(session.name, True)

    def loggedOut(self, session: Session) -> None:
        self._tellMonitors(session.name, False)
        self._left(session)

    def renamed(self, session: Session, old: str) -> None:
        if names.key(old) == names.key(session.name):
            return
        self._tellMonitors(old, False)
        self._tellMonitors(session.name, True)

    def accountChanged(self, session: Session) -> None:
        """
        Tell the clients that share a room with C{session} and asked for
        account-notify.
        """
        line = build("ACCOUNT", session.name if session.account is not None else "*",
                     source=self.source(session.name))
        for follower in self.followers(session, "account-notify"):
            follower.send(line)

    def followers(self, session: Session, cap: str, itself: bool = False) -> list[Session]:
        """
        The clients with C{cap} that follow C{session}'s changes: those
        sharing a room with it, and (with extended-monitor) those that
        MONITOR it; C{session} itself only if C{itself}.
        """
        found = {id(session): session} if itself else {}
        for room in session.rooms:
            for member in room.members.values():
                found.setdefault(id(member), member)
        for watcher in self._monitors.get(names.key(session.name), ()):
            if "extended-monitor" in watcher.caps:
                found.setdefault(id(watcher), watcher)
        if not itself:
            found.pop(id(session), None)
        return [f for f in found.values() if cap in getattr(f, "caps", ())]

    def _left(self, session: Session) -> None:
        """
        C{session} left: remember it for WHOWAS.
        """
        key = names.key(session.name)
        user, host = self.userHost(session)
        entries = self.whowas.pop(key, [])
        entries.append((session.name, user, host, getattr(session, "realname", "") or session.name))
        self.whowas[key] = entries[-10:]
        while len(self.whowas) > WHOWAS_KEPT:
            self.whowas.popitem(last=False)
