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

import unicodedata
from typing import Callable, Iterable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import Attribute, Interface

from globalchat.chat import names, wire
from globalchat.chat.errors import ChatError

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
    for char in text:
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise ChatError("control characters are not allowed")


def _rekey(members: dict[str, Session], old: str, new: str) -> dict[str, Session]:
    # A rename keeps the place in the order of arrival.
    return {new if k == old else k: v for k, v in members.items()}


class Room:
    """
    A room and its members, in order of arrival.
    """

    __slots__ = ("name", "members", "topic")

    def __init__(self, name: str) -> None:
        self.name = name
        self.members: dict[str, Session] = {}
        self.topic = ""


class Session:
    """
    One client's conversation with the hub, from its first line on.

    @ivar name: the name the client logged in with, or C{None} before that.
    @ivar rooms: the rooms it is in, by name key, in order of joining.
    @ivar current: the room its plain lines go to.
    @ivar gone: whether it has quit.
    @ivar pendingName: the name waiting for its password.
    @ivar waiting: lines received while the password is checked.
    """

    __slots__ = ("_hub", "participant", "name", "rooms", "current", "gone", "pendingName",
                 "waiting")

    def __init__(self, hub: Hub, participant: IParticipant) -> None:
        self._hub = hub
        self.participant = participant
        self.name: str | None = None
        self.rooms: dict[str, Room] = {}
        self.current: Room | None = None
        self.gone = False
        self.pendingName: str | None = None
        self.waiting: list[str] | None = None

    def lineReceived(self, text: str) -> None:
        """
        Handle one line of text from the client.  A refused line is
        answered with one error line and the connection carries on.
        """
        text = text.strip()
        if not text or self.gone:
            # Lines that follow /quit in the same read are not acted on.
            return
        if self.waiting is not None:
            # The password is being checked: keep what follows, in order.
            self.waiting.append(text)
            return
        try:
            checkText(text)
            self._hub.commands.dispatch(self, text)
        except ChatError as e:
            self.participant.send(wire.error(str(e)))

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
    """

    log = Logger()

    def __init__(self, greeting: str = wire.DEFAULT_GREETING, defaultRoom: str = "lobby",
                 motd: Iterable[str] = (),
                 authenticate: Callable[[str], Deferred[bool]] | None = None,
                 authFailed: Callable[[IParticipant], None] | None = None) -> None:
        """
        @param authenticate: checks a password (C{--password-file}); with
            it, a name is only accepted after the right password.
        @param authFailed: told of each wrong password, for bans.
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
        session.waiting = []

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

        def release(result: object) -> object:
            queued, session.waiting = session.waiting, None
            for line in queued:
                session.lineReceived(line)
            return result

        d = self.authenticate(password)
        d.addCallback(checked)
        d.addErrback(lambda f: self.log.failure("checking a password failed", f))
        d.addBoth(release)

    def _welcome(self, session: Session, name: str, typed: str | None = None) -> None:
        session.name = name
        self.sessions[names.key(name)] = session
        self.log.info("{peer} logged in as {name}", peer=session.participant.peer, name=name)
        session.participant.send(wire.greeting(self.greeting, name))
        if typed is not None and typed != name:
            # The certificate's name won: tell the client which it has.
            session.participant.send(wire.renamed(typed, name))
        for text in self.motd:
            session.participant.send(wire.info(text))
        self.join(session, self.defaultRoom)

    def room(self, name: str) -> Room:
        """
        The existing room called C{name} (with or without C{#}).

        @raise ChatError: when there is none.
        """
        room = self.rooms.get(names.key(names.checkRoom(name)))
        if room is None:
            raise ChatError(f"no room #{names.checkRoom(name)}: /join it to create it")
        return room

    def join(self, session: Session, name: str) -> Room:
        """
        Put C{session} in room C{name}, creating it, and make it current.
        """
        name = names.checkRoom(name)
        room = self.rooms.get(names.key(name))
        if room is None:
            room = self.rooms[names.key(name)] = Room(name)
        if names.key(room.name) not in session.rooms:
            room.members[names.key(session.name)] = session
            session.rooms[names.key(room.name)] = room
            self.broadcast(wire.joined(room.name, session.name), room.members.values())
            if room.topic:
                session.participant.send(wire.topic(room.name, "-", room.topic))
        session.current = room
        return room

    def part(self, session: Session, room: Room, reason: str = "") -> None:
        """
        Take C{session} out of C{room}; an empty room is forgotten.
        """
        if names.key(room.name) not in session.rooms:
            raise ChatError(f"you are not in #{room.name}")
        self.broadcast(wire.parted(room.name, session.name, reason), room.members.values())
        self._remove(session, room)
        if session.current is room:
            session.current = next(reversed(session.rooms.values()), None)

    def _remove(self, session: Session, room: Room) -> None:
        del room.members[names.key(session.name)]
        del session.rooms[names.key(room.name)]
        if not room.members:
            del self.rooms[names.key(room.name)]

    def say(self, session: Session, text: str, act: bool = False) -> None:
        """
        Send C{text} (or an action) to C{session}'s current room.
        """
        room = session.current
        if room is None:
            raise ChatError("you are in no room: /join ROOM first")
        data = (wire.action if act else wire.message)(room.name, session.name, text)
        self.broadcast(data, room.members.values())

    def private(self, session: Session, target: str, text: str) -> None:
        """
        Send C{text} to one user; both sides see the same line.
        """
        recipient = self.find(target)
        if recipient is None:
            raise ChatError(f"no user called {target} is connected")
        self.broadcast(wire.private(session.name, recipient.name, text),
                       {id(s): s for s in (session, recipient)}.values())

    def neighbours(self, session: Session) -> list[Session]:
        """
        Everybody who shares a room with C{session}, itself included, once.
        """
        seen = {id(session): session}
        for room in session.rooms.values():
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
        for room in session.rooms.values():
            room.members = _rekey(room.members, names.key(old), names.key(new))
        session.name = new
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
        Log C{session} out of everything, telling whoever could see it.
        """
        session.gone = True
        if session.name is None or self.sessions.get(names.key(session.name)) is not session:
            return
        others = [s for s in self.neighbours(session) if s is not session]
        for room in list(session.rooms.values()):
            self._remove(session, room)
        del self.sessions[names.key(session.name)]
        session.current = None
        self.broadcast(wire.quit(session.name, reason), others)

    def broadcast(self, data: bytes, sessions: Iterable[Session]) -> None:
        """
        Give the same bytes to every session; one failing recipient must
        not keep the line from the others.
        """
        for session in list(sessions):
            try:
                session.participant.send(data)
            except Exception:
                self.log.failure("delivery to {peer} failed", peer=session.participant.peer)
