# -*- test-case-name: tests.test_chat_hub -*-
"""
Who is connected, which rooms exist, who is in them, and where each line
goes.

The hub only ever sees decoded text and L{IParticipant}s.  A participant
is whatever can take finished bytes: the network protocol in production,
a list in the tests.  What each command means is in
L{globalchat.chat.commands}; this module keeps the state and its
invariants (every member of a room is logged in, names are unique
case-insensitively, nobody gets a room's lines without being in it).
"""

from __future__ import annotations

import re
import time
from collections import deque
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from twisted.internet.defer import Deferred, gatherResults, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface

from globalchat.chat import names, wire
from globalchat.chat.errors import ChatError
from globalchat.store.interface import IMessageStore, Known, Message
from globalchat.store.memory import MemoryStore

#: How many of a room's last messages a joiner is shown (C{--backlog}).
DEFAULT_BACKLOG = 20

#: Rooms bigger than this do not announce arrivals and departures
#: (C{--announce-limit}).
DEFAULT_ANNOUNCE_LIMIT = 200

#: Unicode's control characters (category Cc) but tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

__all__ = ["Hub", "IParticipant", "Session", "Room", "ChatError", "checkText"]


class IParticipant(Interface):
    """
    One connected client, as the chat logic sees it.
    """

    peer = Attribute("A printable address of the client, for logs.")
    certifiedName = Attribute(
        "The name its TLS client certificate proves (--client-ca), which it "
        "must chat under, or None.")

    def send(data: bytes) -> None:
        """
        Deliver finished wire bytes to this client.
        """

    def close() -> None:
        """
        End the connection once what was sent is delivered (C{/quit}).
        """


def checkText(text: str) -> None:
    """
    Refuse text that would let one user mess with another's terminal.

    Control characters (escape sequences above all) are how a line of chat
    repaints or hides a recipient's screen when read with C{nc}; a tab is
    harmless and allowed.

    @raise ChatError: if C{text} contains a control character.
    """
    if _CONTROL.search(text) is not None:
        raise ChatError("control characters are not allowed")


def _rekey(members: dict[str, Session], old: str, new: str) -> dict[str, Session]:
    # A rename keeps the place in the order of arrival.
    return {new if k == old else k: v for k, v in members.items()}


class Room:
    """
    A room and its members, in order of arrival.
    """

    __slots__ = ("name", "key", "members", "topic")

    def __init__(self, name: str) -> None:
        self.name = name
        #: The name key, which every message said in the room is stored under.
        self.key = names.key(name)
        self.members: dict[str, Session] = {}
        self.topic = ""


class Session:
    """
    One client's conversation with the hub, from its first line on.

    Every line gets its answers in the order the lines came, although
    some answers wait for the store: a message is answered once it is
    stored, a join once the room's history is read.  Lines (and refusals)
    that would overtake such an answer are held and handled after it.

    @ivar name: the name the client logged in with, or C{None} before that.
    @ivar rooms: the rooms it is in, in order of joining (a list: most
        people are in a room or two, and there are many sessions).
    @ivar current: the room its plain lines go to.
    @ivar gone: whether it has quit.
    @ivar pendingName: the name waiting for its password.
    @ivar tagged: whether it asked for message ids (C{@tags}).
    @ivar resumeFrom: the last message id it saw, when it is resuming.
    """

    __slots__ = ("_hub", "participant", "name", "rooms", "current", "gone", "pendingName",
                 "tagged", "resumeFrom", "_held", "_busy", "_inflight", "_catchup",
                 "_releasing")

    def __init__(self, hub: Hub, participant: IParticipant) -> None:
        self._hub = hub
        self.participant = participant
        self.name: str | None = None
        self.rooms: list[Room] = []
        self.current: Room | None = None
        self.gone = False
        self.pendingName: str | None = None
        self.tagged = False
        self.resumeFrom: int | None = None
        #: Lines (str) and answers (bytes) waiting for an earlier answer;
        #: made when first needed, as most sessions never wait.
        self._held: deque[str | bytes] | None = None
        #: How many waits (password, history) are under way.
        self._busy = 0
        #: How many of its messages are being stored.
        self._inflight = 0
        #: While history is being read for it: what else it was sent
        #: meanwhile, with the message ids, to drop what the history shows.
        self._catchup: list[tuple[int | None, bytes]] | None = None
        self._releasing = False

    def lineReceived(self, text: str) -> None:
        """
        Handle one line of text from the client.  A refused line is
        answered with one error line and the connection carries on.
        """
        text = text.strip()
        if not text or self.gone:
            # Lines that follow /quit in the same read are not acted on.
            return
        # A message's answer waits for the store; lines other than messages
        # sent after it wait for that answer, so that answers keep their order.
        if self._held or self._busy or (self._inflight and not wire.isMessageLine(text)):
            self._hold(text)
        else:
            self._handle(text)
        self._hub.lineDone()

    def _hold(self, item: str | bytes, first: bool = False) -> None:
        if self._held is None:
            self._held = deque()
        if first:
            self._held.appendleft(item)
        else:
            self._held.append(item)

    def _handle(self, text: str) -> None:
        try:
            checkText(text)
            clientId = None
            if self.pendingName is None:
                tags, text = wire.parseTags(text)
                if self.name is None:
                    self._loginTags(tags)
                elif "id" in tags:
                    clientId = names.checkClientId(tags["id"])
            self._hub.commands.dispatch(self, text, clientId)
        except ChatError as e:
            self.reply(wire.error(str(e)))

    def _loginTags(self, tags: dict[str, str]) -> None:
        if "resume" in tags:
            if not tags["resume"].isdigit():
                raise ChatError("resume= needs the id of the last message you saw")
            self.resumeFrom = int(tags["resume"])
        self.tagged = self.tagged or "tags" in tags or "resume" in tags

    def reply(self, data: bytes) -> None:
        """
        Answer the client's latest line, after any earlier answers still
        on their way.
        """
        if self._releasing:
            # The answer to a held line: before the lines held after it.
            if self._busy or self._inflight:
                self._hold(data, first=True)
            else:
                self.participant.send(data)
        elif self._held or self._busy or self._inflight:
            self._hold(data)
        else:
            self.participant.send(data)

    def send(self, data: bytes, messageId: int | None = None) -> None:
        """
        Give the client a line that is not an answer to it: somebody
        else's message or event.
        """
        if self._catchup is not None:
            self._catchup.append((messageId, data))
        else:
            self.participant.send(data)

    def waitFor(self, d: Deferred) -> None:
        """
        Hold the client's next lines until C{d} (the rest of an answer)
        has fired.
        """
        self._busy += 1

        def done(result: object) -> None:
            self._busy -= 1
            self.release()

        d.addBoth(done)

    def release(self) -> None:
        """
        Handle the held lines that need not wait any longer.
        """
        if self._releasing:
            return
        self._releasing = True
        try:
            while self._held and not self._busy and not self.gone:
                item = self._held[0]
                if self._inflight and not (isinstance(item, str) and wire.isMessageLine(item)):
                    break
                self._held.popleft()
                if isinstance(item, bytes):
                    self.participant.send(item)
                else:
                    self._handle(item)
        finally:
            self._releasing = False
        self._hub.lineDone()

    def disconnected(self) -> None:
        """
        The client went away; tell the others if it had logged in.
        """
        self._hub.quit(self, "connection closed")


class Hub:
    """
    The state of the chat.

    @ivar greeting: the template the welcome line is made from.
    @ivar defaultRoom: the room everybody starts in.
    @ivar motd: lines shown after the greeting.
    @ivar store: where messages are kept before anybody sees them.
    @ivar known: every name that ever logged in and is not logged in now,
        by name key.
    @ivar backlog: how many of a room's last messages a joiner is shown.
    """

    log = Logger()

    def __init__(self, greeting: str = wire.DEFAULT_GREETING, defaultRoom: str = "lobby",
                 motd: Iterable[str] = (),
                 authenticate: Callable[[str], Deferred[bool]] | None = None,
                 authFailed: Callable[[IParticipant], None] | None = None,
                 store: IMessageStore | None = None,
                 known: dict[str, Known] | None = None,
                 backlog: int = DEFAULT_BACKLOG,
                 announceLimit: int = DEFAULT_ANNOUNCE_LIMIT,
                 now: Callable[[], float] = time.time) -> None:
        """
        @param authenticate: checks a password (C{--password-file}); with
            it, a name is only accepted after the right password.
        @param authFailed: told of each wrong password, for bans.
        @param store: the history (default: in memory).
        @param known: the names the store knows (L{IMessageStore.load}).
        @param announceLimit: rooms with more members do not announce
            arrivals and departures.
        @param now: the time messages are stamped with.
        """
        from globalchat.chat.commands import Commands

        self.authenticate = authenticate
        self.authFailed = authFailed
        self.greeting = greeting
        self.defaultRoom = names.checkRoom(defaultRoom)
        self.motd = list(motd)
        self.commands = Commands(self)
        self.sessions: dict[str, Session] = {}
        self.rooms: dict[str, Room] = {}
        self.store = store if store is not None else MemoryStore()
        self.known = dict(known or {})
        self.backlog = backlog
        self.announceLimit = announceLimit
        self._now = now
        self._drafts: list[tuple[Session, Message]] = []
        self._batching = 0

    def connect(self, participant: IParticipant) -> Session:
        """
        A client connected; its session waits for a name.
        """
        return Session(self, participant)

    @property
    def names(self) -> list[str]:
        """
        The names of everybody logged in, in order of arrival.
        """
        return [session.name for session in self.sessions.values()]

    def find(self, name: str) -> Session | None:
        """
        The logged-in session called C{name} (any case), if any.
        """
        return self.sessions.get(names.key(name))

    def _checkFree(self, name: str, session: Session | None = None) -> None:
        names.checkName(name)
        holder = self.find(name)
        if holder is not None and holder is not session:
            raise ChatError(f"the name {name} is taken, choose another")

    def login(self, session: Session, name: str) -> None:
        """
        Accept C{name} for C{session}, or ask for the password first.  A
        client certificate's name replaces whatever name was typed.
        """
        typed, name = name, session.participant.certifiedName or name
        self._checkFree(name)
        if self.authenticate is not None:
            session.pendingName = name
            session.participant.send(wire.auth(name))
            return
        self._welcome(session, name, typed)

    def checkPassword(self, session: Session, password: str) -> None:
        """
        Check the password given for C{session}'s pending name; the lines
        that arrive meanwhile are handled once it is known.
        """
        name, session.pendingName = session.pendingName, None

        def checked(right: bool) -> None:
            if session.gone:
                return
            if right:
                try:
                    self._checkFree(name)
                    self._welcome(session, name)
                except ChatError as e:
                    session.participant.send(wire.error(str(e)))
            else:
                self.log.warn("{peer} gave a wrong password for {name}",
                              peer=session.participant.peer, name=name, security="auth-failed")
                session.participant.send(wire.error("wrong password; give your name again"))
                if self.authFailed is not None:
                    self.authFailed(session.participant)

        d = self.authenticate(password)
        d.addCallback(checked)
        d.addErrback(lambda f: self.log.failure("checking a password failed", f))
        session.waitFor(d)

    def _welcome(self, session: Session, name: str, typed: str | None = None) -> None:
        session.name = name
        key = names.key(name)
        self.sessions[key] = session
        self.log.info("{peer} logged in as {name}", peer=session.participant.peer, name=name)
        session.participant.send(wire.greeting(self.greeting, name))
        if typed is not None and typed != name:
            # The certificate's name won: tell the client which it has.
            session.participant.send(wire.renamed(typed, name))
        for text in self.motd:
            session.participant.send(wire.info(text))
        # While it is here, the session stands for the name.
        known = self.known.pop(key, None)
        rooms = (self.defaultRoom,)
        if session.resumeFrom is not None and known is not None and known.rooms:
            rooms = known.rooms
        self._remember(name, known.rooms if known is not None else (), away=False)
        for room in rooms:
            self._enter(session, room)
        if session.resumeFrom is not None:
            shown = self.store.missed(key, [room.key for room in session.rooms],
                                      session.resumeFrom)
        else:
            shown = self.store.history(names.key(self.defaultRoom), self.backlog)
        queued = self.store.takePending(key)
        both = gatherResults([shown, queued], consumeErrors=True)
        both.addCallback(lambda found: sorted({m.id: m for m in found[0] + found[1]}.values(),
                                               key=lambda m: m.id))
        session.waitFor(self._catchUp(session, both))

    def _remember(self, name: str, rooms: Iterable[str], away: bool) -> None:
        """
        Record C{name} and its rooms in the store, and among the known
        names while it is C{away}.
        """
        key = names.key(name)
        known = Known(name, tuple(rooms))
        if away:
            self.known[key] = known
        self.store.remember(key, known, self._now()).addErrback(
            lambda f: self.log.failure("remembering {name} failed", f, name=name))

    def _catchUp(self, session: Session, stored: Deferred[list[Message]]) -> Deferred[None]:
        """
        Show C{session} the stored messages C{stored} brings, as history,
        then what it was sent meanwhile, less what the history showed.
        """
        session._catchup = []

        def show(messages: list[Message]) -> set[int]:
            for message in messages:
                session.participant.send(self._format(session, message, history=True))
            return {message.id for message in messages}

        def failed(failure: Failure) -> set[int]:
            self.log.failure("reading the history failed", failure)
            session.participant.send(wire.error("the history cannot be read right now"))
            return set()

        def meanwhile(shown: set[int]) -> None:
            buffered, session._catchup = session._catchup, None
            for messageId, data in buffered:
                if messageId not in shown:
                    session.participant.send(data)

        return stored.addCallbacks(show, failed).addCallback(meanwhile)

    def room(self, name: str) -> Room:
        """
        The existing room called C{name} (with or without C{#}).

        @raise ChatError: when there is none.
        """
        room = self.rooms.get(names.key(names.checkRoom(name)))
        if room is None:
            raise ChatError(f"no room #{names.checkRoom(name)}: /join it to create it")
        return room

    def _enter(self, session: Session, name: str) -> tuple[Room, bool]:
        """
        Put C{session} in room C{name}, creating it, and make it current.

        @return: the room, and whether C{session} was not in it before.
        """
        name = names.checkRoom(name)
        room = self.rooms.get(names.key(name))
        if room is None:
            room = self.rooms[names.key(name)] = Room(name)
        new = room not in session.rooms
        if new:
            room.members[names.key(session.name)] = session
            session.rooms.append(room)
            self.broadcast(wire.joined(room.name, session.name), self._audience(room, session))
            if room.topic:
                session.send(wire.topic(room.name, "-", room.topic))
        session.current = room
        return room, new

    def join(self, session: Session, name: str) -> Deferred[None]:
        """
        Put C{session} in room C{name}, creating it, and make it current;
        fires once it has been shown the room's last messages.
        """
        room, new = self._enter(session, name)
        if not new:
            return succeed(None)
        return self._catchUp(session, self.store.history(room.key, self.backlog))

    def showHistory(self, session: Session, room: str, limit: int) -> Deferred[None]:
        """
        Show C{session} the last C{limit} messages of C{room}.
        """
        return self._catchUp(session, self.store.history(names.key(room), limit))

    def _audience(self, room: Room, session: Session) -> Iterable[Session]:
        """
        Who is told that C{session} came to or left C{room}: everybody in
        it, or only C{session} itself in a room too big for that (each
        arrival would be a line to every member, and in a room of
        thousands nobody reads them).
        """
        if len(room.members) > self.announceLimit:
            return (session,)
        return room.members.values()

    def part(self, session: Session, room: Room, reason: str = "") -> None:
        """
        Take C{session} out of C{room}; an empty room is forgotten.
        """
        if room not in session.rooms:
            raise ChatError(f"you are not in #{room.name}")
        self.broadcast(wire.parted(room.name, session.name, reason),
                       self._audience(room, session))
        self._remove(session, room)
        if session.current is room:
            session.current = session.rooms[-1] if session.rooms else None

    def _remove(self, session: Session, room: Room) -> None:
        del room.members[names.key(session.name)]
        session.rooms.remove(room)
        if not room.members:
            del self.rooms[room.key]

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
        if key not in self.sessions and key not in self.known:
            raise ChatError(f"no user called {target} is connected or has ever logged in here")
        self._submit(session, Message(self._now(), None, session.name, key, "priv", text,
                                      clientId))

    def _submit(self, session: Session, draft: Message) -> None:
        session._inflight += 1
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
                    self._fanOut(run)
                    run = []
                run.append(message)
                continue
            if run:
                self._fanOut(run)
                run = []
            if duplicate:
                # Stored before: the sender only gets its copy back.
                session.send(self._format(session, message), message.id)
            else:
                self._deliverPrivate(session, message)
        if run:
            self._fanOut(run)
        self._settle(batch)

    def _notStored(self, failure: Failure, batch: list[tuple[Session, Message]]) -> None:
        self.log.failure("storing {count} messages failed", failure, count=len(batch))
        for session, _ in batch:
            session.send(wire.error("your message could not be stored; send it again"))
        self._settle(batch)

    def _settle(self, batch: list[tuple[Session, Message]]) -> None:
        for session, _ in batch:
            session._inflight -= 1
        for session in {id(s): s for s, _ in batch}.values():
            if not session._inflight:
                session.release()

    def _fanOut(self, run: list[Message]) -> None:
        """
        Give consecutive messages of one room to its members: each
        message formatted once, one write per member for the whole run.
        """
        room = self.rooms.get(run[0].room)
        if room is None:
            return
        lines = [self._line(message) for message in run]
        plain = tagged = None
        for member in list(room.members.values()):
            try:
                if member._catchup is not None:
                    for message, line in zip(run, lines):
                        member.send(self._tag(member, message, line), message.id)
                elif member.tagged:
                    if tagged is None:
                        tagged = b"".join(wire.tagged(_tags(m), line) for m, line in zip(run, lines))
                    member.participant.send(tagged)
                else:
                    if plain is None:
                        plain = b"".join(lines)
                    member.participant.send(plain)
            except Exception:
                self.log.failure("delivery to {peer} failed", peer=member.participant.peer)

    def _deliverPrivate(self, session: Session, message: Message) -> None:
        recipient = self.sessions.get(message.recipient)
        if recipient is None:
            self.store.queue(message.recipient, message.id).addErrback(
                lambda f: self.log.failure("keeping a private message failed", f))
            session.send(wire.info(f"{self._display(message.recipient)} is offline: they get "
                                   "your message when they next log in"))
        line = self._line(message)
        for target in {id(s): s for s in (session, recipient) if s is not None}.values():
            target.send(self._tag(target, message, line), message.id)

    def _display(self, key: str) -> str:
        session = self.sessions.get(key)
        if session is not None:
            return session.name
        known = self.known.get(key)
        return known.display if known is not None else key

    def _line(self, message: Message) -> bytes:
        """
        The line a stored message is shown as, live.
        """
        if message.kind == "priv":
            return wire.private(message.sender, self._display(message.recipient), message.text)
        room = self.rooms.get(message.room)
        name = room.name if room is not None else message.room
        if message.kind == "act":
            return wire.action(name, message.sender, message.text)
        return wire.message(name, message.sender, message.text)

    def _tag(self, session: Session, message: Message, line: bytes) -> bytes:
        return wire.tagged(_tags(message), line) if session.tagged else line

    def _format(self, session: Session, message: Message, history: bool = False) -> bytes:
        line = self._line(message)
        if history:
            line = wire.history(message.time, line)
        return self._tag(session, message, line)

    def neighbours(self, session: Session) -> list[Session]:
        """
        Everybody who shares a room with C{session}, itself included, once.
        """
        seen = {id(session): session}
        for room in session.rooms:
            for member in room.members.values():
                seen.setdefault(id(member), member)
        return list(seen.values())

    def rename(self, session: Session, new: str) -> None:
        """
        Change C{session}'s name, telling everybody who can see it.
        """
        if session.participant.certifiedName:
            raise ChatError("your name comes from your certificate and cannot change")
        self._checkFree(new, session)
        old = session.name
        self.sessions = _rekey(self.sessions, names.key(old), names.key(new))
        for room in session.rooms:
            room.members = _rekey(room.members, names.key(old), names.key(new))
        session.name = new
        self._remember(old, (), away=True)
        self._remember(new, (), away=False)
        self.log.info("{old} is now {new}", old=old, new=new)
        self.broadcast(wire.renamed(old, new), self.neighbours(session))

    def setTopic(self, session: Session, room: Room, text: str) -> None:
        """
        Set the topic of C{room}, telling its members.
        """
        room.topic = text
        self.broadcast(wire.topic(room.name, session.name, text), room.members.values())

    def quit(self, session: Session, reason: str) -> None:
        """
        Log C{session} out of everything, telling whoever could see it,
        and remember its rooms for when it resumes.
        """
        session.gone = True
        session._held = None
        if session.name is None or self.sessions.get(names.key(session.name)) is not session:
            return
        self._remember(session.name, [room.name for room in session.rooms], away=True)
        others = {id(member): member for room in session.rooms
                  for member in self._audience(room, session) if member is not session}
        for room in list(session.rooms):
            self._remove(session, room)
        del self.sessions[names.key(session.name)]
        session.current = None
        self.broadcast(wire.quit(session.name, reason), others.values())

    def broadcast(self, data: bytes, sessions: Iterable[Session]) -> None:
        """
        Give the same bytes to every session; one failing recipient must
        not keep the line from the others.
        """
        for session in list(sessions):
            try:
                session.send(data)
            except Exception:
                self.log.failure("delivery to {peer} failed", peer=session.participant.peer)


def _tags(message: Message) -> str:
    """
    The tags of a stored message: its id and the sender's own id for it.
    """
    if message.clientId is None:
        return f"id={message.id}"
    return f"id={message.id};cid={message.clientId}"
