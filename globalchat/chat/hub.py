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
from typing import Iterable, Iterator

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat import names, wire
from globalchat.chat.bus import IBus, LocalBus, Room
from globalchat.chat.commands import MAX_HISTORY, Commands
from globalchat.chat.errors import ChatError
from globalchat.chat.session import Session
from globalchat.chat.text import balanceBidi, checkNoBidi
from globalchat.store.interface import IMessageStore, Known, Message
from globalchat.store.memory import MemoryStore

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
    """

    log = Logger()

    def __init__(self, greeting: str = wire.DEFAULT_GREETING, defaultRoom: str = "lobby",
                 motd: Iterable[str] = (), store: IMessageStore | None = None,
                 known: dict[str, Known] | None = None, backlog: int = DEFAULT_BACKLOG,
                 bus: IBus | None = None, roomsPerUser: int = DEFAULT_ROOMS_PER_USER,
                 maxRooms: int = DEFAULT_MAX_ROOMS, now=time.time) -> None:
        """
        @param known: the names the store knows (L{IMessageStore.load}).
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
        self.commands = Commands(self)
        #: Every name that logged in before and is not logged in now, by key.
        self._known = dict(known or {})
        self._now = now
        self._drafts: list[tuple[Session, Message]] = []
        self._batching = 0

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
            raise ChatError(f"no room #{names.checkRoom(name)}: /join it to create it")
        return room

    # -- logging in ------------------------------------------------------

    def welcome(self, session: Session, typed: str | None = None) -> None:
        """
        Greet C{session}, now logged in, and put it in its rooms: the
        default one, or those it was in when it is resuming.

        @param typed: the name it typed, when its certificate's won.
        """
        name = session.name
        key = names.key(name)
        self.log.info("{peer} logged in as {name}", peer=session.connection.peer, name=name)
        session.answer(wire.greeting(self.greeting, name))
        if typed is not None and typed != name:
            session.answer(wire.renamed(typed, name))
        for text in self.motd:
            session.answer(wire.info(text))
        known = self._known.pop(key, None)
        rooms = (self.defaultRoom,)
        if session.resumeFrom is not None and known is not None and known.rooms:
            rooms = known.rooms
        self._remember(name, known.rooms if known is not None else (), away=False)
        for room in rooms:
            self.bus.enter(session, room)
        if session.resumeFrom is not None:
            # One more than is shown, to know that some were left out.
            shown = self.store.missed(key, [room.key for room in session.rooms],
                                      session.resumeFrom, MAX_HISTORY + 1)
            shown.addCallback(self._resumable, session)
        else:
            shown = self.store.history(names.key(self.defaultRoom), self.backlog)
        queued = self.store.takePending(key)
        both = gatherResults([shown, queued], consumeErrors=True)
        both.addCallback(lambda found: sorted({m.id: m for m in found[0] + found[1]}.values(),
                                               key=lambda m: m.id))
        session.waitFor(self._catchUp(session, both))

    def _resumable(self, missed: list[Message], session: Session) -> list[Message]:
        """
        What a resuming client is shown: at most L{MAX_HISTORY} messages,
        the newest, with a word that older ones were left out.
        """
        if len(missed) <= MAX_HISTORY:
            return missed
        session.answer(wire.info(f"you missed more than {MAX_HISTORY} messages; here are the "
                                 f"last {MAX_HISTORY} (/history ROOM N shows a room's)"))
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

    def _catchUp(self, session: Session, stored: Deferred[list[Message]]) -> Deferred[None]:
        """
        Show C{session} the stored messages C{stored} brings, as history,
        then what it was sent meanwhile, less what the history showed.
        """
        session.catchUp()

        def show(messages: list[Message]) -> list[int]:
            for message in messages:
                line = wire.history(message.time, self._line(message))
                session.answer(session.format(message, line))
            return [message.id for message in messages]

        def failed(failure: Failure) -> list[int]:
            self.log.failure("reading the history failed", failure)
            session.answer(wire.error("the history cannot be read right now"))
            return []

        return stored.addCallbacks(show, failed).addCallback(session.caughtUp)

    # -- rooms and names -------------------------------------------------

    def join(self, session: Session, name: str) -> Deferred[None]:
        """
        Put C{session} in room C{name}, creating it, and make it current;
        fires once it has been shown the room's last messages.
        """
        existing = self.bus.room(names.checkRoom(name))
        if existing is None and len(self.bus.rooms()) >= self.maxRooms:
            raise ChatError(f"this server has {self.maxRooms} rooms, its most: join one of "
                            "them (/rooms)")
        if existing not in session.rooms and len(session.rooms) >= self.roomsPerUser:
            raise ChatError(f"you are in {self.roomsPerUser} rooms, the most: /part one first")
        room, new = self.bus.enter(session, name)
        if not new:
            return succeed(None)
        return self._catchUp(session, self.store.history(room.key, self.backlog))

    def showHistory(self, session: Session, room: Room, limit: int) -> Deferred[None]:
        """
        Show C{session} the last C{limit} messages of C{room}.
        """
        return self._catchUp(session, self.store.history(room.key, limit))

    def part(self, session: Session, room: Room, reason: str = "") -> None:
        """
        Take C{session} out of C{room}; an empty room is forgotten.
        """
        if room not in session.rooms:
            raise ChatError(f"you are not in #{room.name}")
        self.bus.leave(session, room, balanceBidi(reason))

    def rename(self, session: Session, new: str) -> None:
        """
        Change C{session}'s name, telling everybody who can see it.
        """
        if session.certified:
            raise ChatError("your name comes from your certificate and cannot change")
        self.checkFree(new, session)
        old = session.name
        self.bus.rename(session, new)
        self._remember(old, (), away=True)
        self._remember(new, (), away=False)
        self.log.info("{old} is now {new}", old=old, new=new)

    def setTopic(self, session: Session, room: Room, text: str) -> None:
        """
        Set the topic of C{room}, telling its members.
        """
        checkNoBidi(text, "a topic")
        self.bus.setTopic(session, room, text)

    def quit(self, session: Session, reason: str) -> None:
        """
        Log C{session} out of everything, telling whoever could see it,
        and remember its rooms for when it resumes.
        """
        if session.name is None or self.bus.holder(session.name) is not session:
            return
        rooms = self.bus.quit(session, balanceBidi(reason))
        self._remember(session.name, rooms, away=True)

    # -- messages --------------------------------------------------------

    def say(self, session: Session, text: str, act: bool = False,
            clientId: str | None = None) -> None:
        """
        Send C{text} (or an action) to C{session}'s current room, once
        stored.
        """
        room = session.current
        if room is None:
            raise ChatError("you are in no room: /join ROOM first")
        self._submit(session, Message(self._now(), room.key, session.name, None,
                                      "act" if act else "msg", text, clientId))

    def private(self, session: Session, target: str, text: str,
                clientId: str | None = None) -> None:
        """
        Send C{text} to one user, once stored; both sides see the same
        line.  A user who is away, but has logged in before, gets it when
        they next log in.
        """
        key = names.key(target)
        if self.bus.holder(target) is None and key not in self._known:
            raise ChatError(f"no user called {target} is connected or has ever logged in here")
        self._submit(session, Message(self._now(), None, session.name, key, "priv", text,
                                      clientId))

    def _submit(self, session: Session, draft: Message) -> None:
        draft.text = balanceBidi(draft.text)
        session.submitted()
        self._drafts.append((session, draft))

    @contextmanager
    def batch(self) -> Iterator[None]:
        """
        Store the messages of several lines (one read from the network)
        together, and deliver them together: one write per recipient for
        the lot instead of one per message.
        """
        self._batching += 1
        try:
            yield
        finally:
            self._batching -= 1
            self.lineDone()

    def lineDone(self) -> None:
        """
        A line was handled: store what it said, unless more lines of the
        same batch follow.
        """
        if self._batching or not self._drafts:
            return
        batch, self._drafts = self._drafts, []
        d = self.store.append([draft for _, draft in batch])
        d.addCallbacks(self._deliver, self._notStored, callbackArgs=(batch,),
                       errbackArgs=(batch,))
        d.addErrback(lambda f: self.log.failure("delivering messages failed", f))

    def _deliver(self, results: list[tuple[Message, bool]],
                 batch: list[tuple[Session, Message]]) -> None:
        run: list[Message] = []
        for (session, _), (message, duplicate) in zip(batch, results):
            if message.room is not None and not duplicate:
                if run and run[0].room != message.room:
                    self._publish(run)
                    run = []
                run.append(message)
                continue
            if run:
                self._publish(run)
                run = []
            if duplicate:
                # Stored before: the sender only gets its copy back.
                session.send(session.format(message, self._line(message)), message.id)
            else:
                self._deliverPrivate(session, message)
        if run:
            self._publish(run)
        self._settle(batch)

    def _publish(self, run: list[Message]) -> None:
        self.bus.publish(run, [self._line(message) for message in run])

    def _notStored(self, failure: Failure, batch: list[tuple[Session, Message]]) -> None:
        self.log.failure("storing {count} messages failed", failure, count=len(batch))
        for session, _ in batch:
            session.send(wire.error("your message could not be stored; send it again"))
        self._settle(batch)

    def _settle(self, batch: list[tuple[Session, Message]]) -> None:
        done = {id(session): session for session, _ in batch if session.settled()}
        for session in done.values():
            session.release()

    def _deliverPrivate(self, session: Session, message: Message) -> None:
        line = self._line(message)
        if self.bus.deliverPrivate(message, line, session):
            return
        recipient = self._display(message.recipient)

        def kept(_: None) -> None:
            session.send(wire.info(f"{recipient} is offline: they get your message when "
                                   "they next log in"))
            session.send(session.format(message, line), message.id)

        def lost(failure: Failure) -> None:
            self.log.failure("keeping a private message failed", failure)
            session.send(wire.error(f"{recipient} is offline and your message could not "
                                    "be kept for them; send it again later"))

        # Its answer (the notice and its copy) waits until it is kept.
        session.submitted()
        d = self.store.queue(message.recipient, message.id)
        d.addCallbacks(kept, lost).addBoth(lambda _: self._settle([(session, message)]))

    def _display(self, key: str) -> str:
        session = self.bus.holder(key)
        if session is not None:
            return session.name
        known = self._known.get(key)
        return known.display if known is not None else key

    def _line(self, message: Message) -> bytes:
        """
        The line a stored message is shown as, live.
        """
        if message.kind == "priv":
            return wire.private(message.sender, self._display(message.recipient), message.text)
        room = self.bus.room(message.room)
        name = room.name if room is not None else message.room
        if message.kind == "act":
            return wire.action(name, message.sender, message.text)
        return wire.message(name, message.sender, message.text)
