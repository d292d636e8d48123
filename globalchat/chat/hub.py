# -*- test-case-name: tests.test_chat_hub -*-
"""
The chat's state and rules: the calls commands make (join, say, rename,
...), with every message stored before anybody sees it.

The hub keeps what outlives a connection (the store, the names known
from earlier logins) and leaves who is where to its L{IBus}; it only ever
sees decoded text and L{Session}s, so a whole conversation is a unit test.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

from twisted.internet.defer import Deferred, FirstError, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat import names, wire
from globalchat.chat.bus import IBus, LocalBus, Room
from globalchat.chat.accountcommands import AccountCommands
from globalchat.chat.commands import MAX_HISTORY, Commands
from globalchat.chat.counters import Counters
from globalchat.chat.modcommands import ModerationCommands
from globalchat.chat.errors import ChatError
from globalchat.chat.pipeline import MessagePipeline
from globalchat.chat.presence import IPresenceWatcher
from globalchat.chat.session import Session
from globalchat.chat.statscommands import StatsCommands
from globalchat.chat.text import balanceBidi, checkNoBidi
from globalchat.store.interface import IMessageStore, Known, Message
from globalchat.store.memory import MemoryStore

if TYPE_CHECKING:
    from globalchat.chat.moderation import Moderation
    from globalchat.identity.accounts import Accounts

#: How many of a room's last messages a joiner is shown (C{--backlog}).
DEFAULT_BACKLOG = 20

#: The most rooms one user may be in at once (C{--max-rooms-per-user}) and
#: on the server (C{--max-rooms}): each is memory a client can make the
#: server hold.
DEFAULT_ROOMS_PER_USER = 50
DEFAULT_MAX_ROOMS = 10_000


class Hub:
    """
    The state of the chat.

    @ivar greeting: the template the welcome line is made from.
    @ivar defaultRoom: the room everybody starts in.
    @ivar motd: lines shown after the greeting.
    @ivar bus: who holds which name and who is in which room.
    @ivar store: where messages are kept before anybody sees them.
    @ivar backlog: how many of a room's last messages a joiner is shown.
    @ivar roomsPerUser: the most rooms one session may be in.
    @ivar maxRooms: the most rooms there may be.
    @ivar commands: what each line means.
    @ivar counters: what the chat has done, for C{/stats} and the metrics.
    """

    log = Logger()

    def __init__(self, greeting: str = wire.DEFAULT_GREETING, defaultRoom: str = "lobby",
                 motd: Iterable[str] = (), store: IMessageStore | None = None,
                 known: dict[str, Known] | None = None, backlog: int = DEFAULT_BACKLOG,
                 bus: IBus | None = None, roomsPerUser: int = DEFAULT_ROOMS_PER_USER,
                 maxRooms: int = DEFAULT_MAX_ROOMS, accounts: Accounts | None = None,
                 moderation: Moderation | None = None,
                 now=time.time) -> None:
        """
        @param known: the names the store knows (L{IMessageStore.load}).
        @param accounts: the accounts, unless they are off (then every
            name that logged in is known, and gets private messages while
            away, as before accounts).
        @param now: the time messages are stamped with.
        """
        self.greeting = greeting
        self.defaultRoom = names.checkRoom(defaultRoom)
        self.motd = list(motd)
        self.store = store if store is not None else MemoryStore()
        self.bus = bus if bus is not None else LocalBus()
        self.backlog = backlog
        self.roomsPerUser = roomsPerUser
        self.maxRooms = maxRooms
        self.accounts = accounts
        self.moderation = moderation
        groups = [AccountCommands(self, accounts)] if accounts is not None else []
        if moderation is not None:
            groups += [ModerationCommands(self, moderation), StatsCommands(self, moderation)]
        self.commands = Commands(self, *groups)
        #: Every name that logged in before and is not logged in now, by key.
        self._known = dict(known or {})
        self._now = now
        self.counters = Counters()
        #: Who is told of logins, logouts, renames and accounts anywhere
        #: (objects with L{IPresenceWatcher}'s methods), for protocols that
        #: let clients follow names (IRC's MONITOR, account-notify).
        self.watchers: list[IPresenceWatcher] = []
        self.pipeline = MessagePipeline(self.store, self.bus, self._display, self.counters, now)

    @property
    def names(self) -> list[str]:
        """
        The names of everybody logged in, in order of arrival.
        """
        return [session.name for session in self.bus]

    def checkFree(self, name: str, session: Session | None = None) -> None:
        """
        @raise ChatError: if C{name} is not a valid name, or is held by (or
            looks like the name of) another session than C{session}.
        """
        names.checkName(name)
        self.bus.checkFree(session, name)

    def room(self, name: str) -> Room:
        """
        The existing room called C{name} (with or without C{#}).

        @raise ChatError: when there is none.
        """
        room = self.bus.room(names.checkRoom(name))
        if room is None:
            raise ChatError(f"no room #{names.checkRoom(name)}: /join it to create it", "no-room")
        return room

    # -- logging in ------------------------------------------------------

    def welcome(self, session: Session, typed: str | None = None) -> None:
        """
        Greet C{session}, now logged in, and put it in its rooms: the
        default one, or those it was in when it is resuming.

        @param typed: the name it typed, when its certificate's won.
        """
        name = session.name
        self.log.info("{peer} logged in as {name}", peer=session.connection.peer, name=name)
        render = session.render
        for watcher in self.watchers:
            watcher.loggedIn(session)
        session.answer(render.greeting(self.greeting, name))
        if typed is not None and typed != name:
            session.answer(render.renamed(typed, name))
        motd = render.motd(name, self.motd)
        if motd:
            session.answer(motd)
        owner = self._owner(session)
        known = self._known.pop(owner, None) if owner is not None else None
        if known is None and owner is not None and session.resumeFrom is not None:
            # It may have left another process of the same chat.
            found = self.store.known(owner)
        else:
            found = succeed(known)
        session.waitFor(found.addCallback(self._enterRooms, session, owner))

    def _enterRooms(self, known: Known | None, session: Session,
                    owner: str | None) -> Deferred[None]:
        """
        Put a session that just logged in in its rooms: those it was in
        (C{known}) when it is resuming, else the default one; then show it
        what it missed.
        """
        rooms = (self.defaultRoom,) if session.joinsDefaultRoom else ()
        if session.resumeFrom is not None and known is not None and known.rooms:
            rooms = [room for room in known.rooms if self.moderation is None
                     or self.moderation.readable(session, names.key(room))]
        if owner is not None:
            self._remember(session.name, known.rooms if known is not None else (), away=False)
        entered = gatherResults([self.bus.enter(session, room) for room in rooms],
                                consumeErrors=True)
        entered.addErrback(_firstError)
        return entered.addCallback(
            lambda _: self._catchUp(session, self._missed(session, owner)))

    def _missed(self, session: Session, owner: str | None) -> Deferred[list[Message]]:
        """
        What a session that just logged in is shown: its rooms' messages
        since it left (resuming) or the default room's last few, and the
        private messages kept for it, in order.
        """
        if session.resumeFrom is not None:
            # One more than is shown, to know that some were left out.
            shown = self.store.missed(owner, [room.key for room in session.rooms],
                                      session.resumeFrom, MAX_HISTORY + 1)
            shown.addCallback(self._resumable, session)
        elif session.joinsDefaultRoom:
            shown = self.store.history(names.key(self.defaultRoom), self.backlog)
        else:
            shown = succeed([])
        queued = self.store.takePending(owner) if owner is not None else succeed([])
        both = gatherResults([shown, queued], consumeErrors=True)
        return both.addCallback(lambda found: sorted({m.id: m for m in found[0] + found[1]}.values(),
                                                      key=lambda m: m.id))

    def _owner(self, session: Session) -> str | None:
        """
        Whose private messages C{session} may read, kept and missed: its
        account's; with accounts off, its name's (anyone's who takes it).
        """
        return names.key(session.name) if self.accounts is None else session.account

    def registered(self, session: Session) -> None:
        """
        C{session}'s name became an account (or stopped being one): from
        now on it is known, and gets private messages while away.
        """
        if session.account is not None:
            self._remember(session.name, [room.name for room in session.rooms], away=False)
        if self.moderation is not None:
            self.moderation.accountChanged(names.key(session.name), session.account is not None)
        for watcher in self.watchers:
            watcher.accountChanged(session)

    def visible(self, session: Session, room: Room) -> bool:
        """
        Whether C{session} may see that C{room} exists (a secret room only
        to its members).
        """
        return self.moderation is None or self.moderation.visible(session, room)

    def _resumable(self, missed: list[Message], session: Session) -> list[Message]:
        """
        What a resuming client is shown: at most L{MAX_HISTORY} messages,
        the newest, with a word that older ones were left out.
        """
        if len(missed) <= MAX_HISTORY:
            return missed
        session.answer(session.render.notice(
            f"you missed more than {MAX_HISTORY} messages; here are the last {MAX_HISTORY} "
            "(/history ROOM N shows a room's)"))
        return missed[-MAX_HISTORY:]

    def _remember(self, name: str, rooms: Iterable[str], away: bool) -> None:
        """
        Record C{name} and its rooms in the store, and among the known
        names while it is C{away}.
        """
        key = names.key(name)
        known = Known(name, tuple(rooms))
        if away:
            self._known[key] = known
        self.store.remember(key, known, self._now()).addErrback(
            lambda f: self.log.failure("remembering {name} failed", f, name=name))

    def _rememberRooms(self, session: Session) -> None:
        """
        Keep the rooms C{session} is in now, so that it gets them back
        when it resumes even if this process dies without seeing it leave.
        """
        if self._owner(session) is not None:
            self._remember(session.name, [room.name for room in session.rooms], away=False)

    def _catchUp(self, session: Session, stored: Deferred[list[Message]]) -> Deferred[None]:
        """
        Show C{session} the stored messages C{stored} brings, as history,
        then what it was sent meanwhile, less what the history showed.
        """
        session.catchUp()

        def show(messages: list[Message]) -> list[int]:
            for message in messages:
                session.answer(session.render.history(message, self.pipeline.where(message),
                                                      message.sender == session.name))
            return [message.id for message in messages]

        def failed(failure: Failure) -> list[int]:
            self.log.failure("reading the history failed", failure)
            session.answer(session.render.error("the history cannot be read right now"))
            return []

        return stored.addCallbacks(show, failed).addCallback(session.caughtUp)

    # -- rooms and names -------------------------------------------------

    def join(self, session: Session, name: str, key: str | None = None,
             backlog: bool = True) -> Deferred[None]:
        """
        Put C{session} in room C{name}, creating it, and make it current;
        fires once it has been shown the room's last messages.

        @param key: the room's key, if it has one.
        @param backlog: whether to show them (a protocol that answers a
            join with more than the join shows them itself, after that).
        """
        existing = self.bus.room(names.checkRoom(name))
        if self.moderation is not None:
            self.moderation.checkJoin(session, names.key(names.checkRoom(name)), key,
                                      len(existing.members) if existing is not None else 0)
        if existing is None and len(self.bus.rooms()) >= self.maxRooms:
            raise ChatError(f"this server has {self.maxRooms} rooms, its most: join one of "
                            "them (/rooms)", "too-many-rooms")
        if existing not in session.rooms and len(session.rooms) >= self.roomsPerUser:
            raise ChatError(f"you are in {self.roomsPerUser} rooms, the most: /part one first",
                            "too-many-rooms")

        def entered(result: tuple[Room, bool]) -> Deferred[None] | None:
            room, new = result
            if new and self.moderation is not None and len(room.members) == 1:
                self.moderation.opened(room.key, room.name, session.name)
            record = self.moderation.record(room.key) if self.moderation is not None else None
            if record is not None and record.topic and not room.topic:
                room.topic = record.topic
            if not new or not backlog:
                return None
            self._rememberRooms(session)
            return self._catchUp(session, self.store.history(room.key, self.backlog))

        return self.bus.enter(session, name).addCallback(entered)

    def showHistory(self, session: Session, room: Room, limit: int) -> Deferred[None]:
        """
        Show C{session} the last C{limit} messages of C{room}.
        """
        return self._catchUp(session, self.store.history(room.key, limit))

    def part(self, session: Session, room: Room, reason: str = "",
             by: Session | None = None) -> None:
        """
        Take C{session} out of C{room}; an empty room is forgotten.

        @param by: the operator putting it out, if one is.
        """
        if room not in session.rooms:
            raise ChatError(f"you are not in #{room.name}", "not-in-room")
        self.bus.leave(session, room, balanceBidi(reason), by)
        self._rememberRooms(session)
        self._closedIfEmpty([room.name])

    def _closedIfEmpty(self, rooms: Iterable[str]) -> None:
        """
        Forget the modes of the rooms among C{rooms} that nobody is in.
        """
        if self.moderation is not None:
            for name in rooms:
                if self.bus.room(name) is None:
                    self.moderation.closed(names.key(name))

    def rename(self, session: Session, new: str) -> Deferred[None]:
        """
        Change C{session}'s name, telling everybody who can see it.  An
        account's name is its own; a guest cannot take an account's.
        """
        if session.certified:
            raise ChatError("your name comes from your certificate and cannot change", "name-locked")
        if session.account is not None and names.key(new) != session.account:
            raise ChatError("your name is your account's: log in as a guest to use another",
                            "name-locked")
        self.checkFree(new, session)
        if self.accounts is None or session.account is not None:
            return self._renamed(session, new)

        def found(account) -> Deferred[None]:
            if account is not None:
                raise ChatError(f"{new} is a registered account: log in to it to use it",
                                "name-taken")
            return self._renamed(session, new)

        return self.accounts.find(new).addCallback(found)

    def _renamed(self, session: Session, new: str) -> Deferred[None]:
        old = session.name

        def renamed(_: None) -> None:
            if self.moderation is not None:
                self.moderation.renamed(old, new)
            for watcher in self.watchers:
                watcher.renamed(session, old)
            if self._owner(session) is not None:
                self._remember(old, (), away=True)
                self._remember(new, [room.name for room in session.rooms], away=False)
            self.log.info("{old} is now {new}", old=old, new=new)

        return self.bus.rename(session, new).addCallback(renamed)

    def setTopic(self, session: Session, room: Room, text: str) -> None:
        """
        Set the topic of C{room}, telling its members.
        """
        checkNoBidi(text, "a topic")
        if self.moderation is not None:
            self.moderation.checkTopic(session, room.key)
            if self.moderation.record(room.key) is not None:
                self.moderation.change(room.key, topic=text)
        self.bus.setTopic(session, room, text)

    def quit(self, session: Session, reason: str) -> None:
        """
        Log C{session} out of everything, telling whoever could see it,
        and remember its rooms for when it resumes.
        """
        if session.name is None or self.bus.holder(session.name) is not session:
            return
        rooms = self.bus.quit(session, balanceBidi(reason))
        self._closedIfEmpty(rooms)
        for watcher in self.watchers:
            watcher.loggedOut(session)
        if self._owner(session) is not None:
            self._remember(session.name, rooms, away=True)

    # -- messages --------------------------------------------------------

    def say(self, session: Session, text: str, act: bool = False,
            clientId: str | None = None, room: Room | None = None,
            notice: bool = False, tags: dict[str, str] | None = None) -> None:
        """
        Send C{text} (or an action, or a notice) to C{room}, one of
        C{session}'s, or else its current room, once stored.

        @param tags: client-only tags, passed on live (not stored).
        """
        if room is None:
            room = session.current
        elif room not in session.rooms and not (self.moderation is not None and
                                                 self.moderation.allowsOutsiders(room.key)):
            raise ChatError(f"you are not in #{room.name}", "not-in-room")
        if room is None:
            raise ChatError("you are in no room: /join ROOM first", "not-in-room")
        if self.moderation is not None:
            self.moderation.checkSpeak(session, room.key)
        self._submit(session, Message(self._now(), room.key, session.name, None,
                                      "act" if act else "notice" if notice else "msg", text,
                                      clientId, clientTags=tags))

    def private(self, session: Session, target: str, text: str,
                clientId: str | None = None, kind: str = "priv",
                tags: dict[str, str] | None = None) -> Deferred[None] | None:
        """
        Send C{text} to one user, once stored; both sides see the same
        line.  C{kind} is C{priv}, or C{privact} for an action,
        C{privnotice} for a notice.  An account (or with accounts off, a name that logged in
        before) gets it when it next logs in if it is away.

        @return: a Deferred when the recipient has to be looked up first.
        """
        if self.moderation is not None:
            self.moderation.checkSpeak(session, None)
        key = names.key(target)
        draft = Message(self._now(), None, session.name, key, kind, text,
                        clientId, clientTags=tags)
        if self.bus.holder(target) is not None or (self.accounts is None and key in self._known):
            self._submit(session, draft)
            return None

        def submit(_: object = None) -> None:
            self._submit(session, draft)
            self.lineDone()

        def found(account) -> None:
            if account is None:
                raise ChatError(f"{target} is not online, and only accounts get messages "
                                "while away", "no-user")
            submit()

        def remembered(known: Known | None) -> None:
            if known is None:
                raise ChatError(f"no user called {target} is connected or has ever logged "
                                "in here", "no-user")
            # Away, then: known here from now on, as those who left here are.
            self._known[key] = known
            submit()

        def located(display: str | None) -> Deferred[None] | None:
            # Online elsewhere (on another node of a cluster).
            if display is not None:
                return submit()
            if self.accounts is None:
                # Known, perhaps, from another node of a cluster.
                return self.store.known(key).addCallback(remembered)
            return self.accounts.find(target).addCallback(found)

        return self.bus.online(target).addCallback(located)

    def _submit(self, session: Session, draft: Message) -> None:
        self.pipeline.submit(session, draft)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """
        Store the messages of several lines (one read from the network)
        together, and deliver them together: one write per recipient for
        the lot instead of one per message.
        """
        with self.pipeline.batch():
            yield

    def lineDone(self) -> None:
        """
        A line was handled: store what it said, unless more lines of the
        same batch follow.
        """
        self.pipeline.lineDone()

    def _display(self, key: str) -> str:
        session = self.bus.holder(key)
        if session is not None:
            return session.name
        known = self._known.get(key)
        return known.display if known is not None else key


def _firstError(failure: Failure) -> Failure:
    """
    The first failure of a L{gatherResults}, unwrapped: its L{ChatError}
    is what the client is told.
    """
    failure.trap(FirstError)
    return failure.value.subFailure
