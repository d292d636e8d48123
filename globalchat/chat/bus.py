# -*- test-case-name: tests.test_chat_bus -*-
"""
Rooms and presence: who holds which name, who is in which room, each
room's topic, and the fan-out of lines to the people they are for.

Everything that changes membership or names (a login, JOIN, PART, NICK,
QUIT, TOPIC) and every delivery of a stored message goes through
L{IBus}, so that one process's L{LocalBus} can be replaced by one shared
between processes.  docs/architecture.md says what another
implementation must guarantee.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Iterator

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from zope.interface import Interface, implementer

from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.chat.render import RunCache

if TYPE_CHECKING:
    from globalchat.chat.session import Session
    from globalchat.store.interface import Message

#: Rooms bigger than this do not announce arrivals and departures
#: (C{--announce-limit}).
DEFAULT_ANNOUNCE_LIMIT = 200


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


class IBus(Interface):
    """
    The room-and-presence seam.  Membership changes are announced by the
    bus itself, to whoever it knows should see them.
    """

    def holder(name: str) -> Session | None:
        """
        The logged-in session called C{name} (any case), if any.
        """

    def checkFree(session: Session | None, name: str) -> None:
        """
        @raise ChatError: if another session than C{session} holds C{name},
            or a name that looks like it.
        """

    def claim(session: Session, name: str) -> Deferred[None]:
        """
        Log C{session} in as C{name}; at most one session holds a name.

        @return: fires once it holds it, or fails with a L{ChatError} if
            another session holds it (or it cannot be checked now).
        """

    def rename(session: Session, new: str) -> Deferred[None]:
        """
        Move C{session}'s claim to C{new}, telling whoever can see it.

        @return: fires once done, or fails with a L{ChatError}.
        """

    def online(name: str) -> Deferred[str | None]:
        """
        The name as displayed, if anybody holds C{name} (any case) anywhere.
        """

    def quit(session: Session, reason: str) -> list[str]:
        """
        Release C{session}'s name and rooms, telling whoever could see it.

        @return: the names of the rooms it was in.
        """

    def room(name: str) -> Room | None:
        """
        The room called C{name} (with or without C{#}), if it exists.
        """

    def rooms() -> list[Room]:
        """
        Every room this process has members in.
        """

    def listRooms() -> Deferred[list[tuple[Room, int]]]:
        """
        Every room anywhere, with how many members it has.
        """

    def who(room: Room) -> Deferred[list[str]]:
        """
        The names of C{room}'s members anywhere, in order of arrival.
        """

    def enter(session: Session, name: str) -> Deferred[tuple[Room, bool]]:
        """
        Put C{session} in room C{name}, creating it, and tell the room.

        @return: fires with the room, and whether C{session} was not in it
            before; or fails with a L{ChatError}.
        """

    def leave(session: Session, room: Room, reason: str, by: Session | None = None) -> None:
        """
        Take C{session} out of C{room}, telling the room; C{by} is the
        operator who put it out, if one did.

        @raise ChatError: if that cannot be done now.
        """

    def setTopic(session: Session, room: Room, text: str) -> None:
        """
        Set C{room}'s topic, telling its members.

        @raise ChatError: if that cannot be done now.
        """

    def publish(run: list[Message], where: str) -> None:
        """
        Deliver consecutive stored messages of one room, displayed as
        C{where}, to its members.

        @raise ChatError: if they cannot be delivered now (then nobody was
            sent anything).
        """

    def deliverPrivate(message: Message, where: str, sender: Session) -> Deferred[bool]:
        """
        Deliver a stored private message to its recipient and its sender,
        if the recipient is logged in.

        @return: fires with whether it was (otherwise nobody was sent
            anything), or fails with a L{ChatError}.
        """


@implementer(IBus)
class LocalBus:
    """
    L{IBus} for one process: every session is here.

    @ivar announceLimit: rooms with more members do not announce arrivals
        and departures.
    """

    log = Logger()

    def __init__(self, announceLimit: int = DEFAULT_ANNOUNCE_LIMIT) -> None:
        self.announceLimit = announceLimit
        self._sessions: dict[str, Session] = {}
        #: The name key of each logged-in name, by its skeleton.
        self._looks: dict[str, str] = {}
        self._rooms: dict[str, Room] = {}

    def __iter__(self) -> Iterator[Session]:
        """
        The logged-in sessions, in order of arrival.
        """
        return iter(list(self._sessions.values()))

    def holder(self, name: str) -> Session | None:
        return self._sessions.get(names.key(name))

    def checkFree(self, session: Session | None, name: str) -> None:
        holder = self.holder(name)
        if holder is not None and holder is not session:
            raise nameTaken(name)
        alike = self._sessions.get(self._looks.get(names.skeleton(name), ""))
        if alike is not None and alike is not session:
            raise nameLooksLike(name, alike.name)

    def claim(self, session: Session, name: str) -> Deferred[None]:
        try:
            self.checkFree(session, name)
        except ChatError:
            return fail()
        self._claim(session, name)
        return succeed(None)

    def _claim(self, session: Session, name: str) -> None:
        """
        Give C{name}, checked free, to C{session} in this process.
        """
        session.name = name
        self._sessions[names.key(name)] = session
        self._looks[names.skeleton(name)] = names.key(name)

    def online(self, name: str) -> Deferred[str | None]:
        holder = self.holder(name)
        return succeed(holder.name if holder is not None else None)

    def rename(self, session: Session, new: str) -> Deferred[None]:
        try:
            self.checkFree(session, new)
        except ChatError:
            return fail()
        self._rename(session, new)
        return succeed(None)

    def _rename(self, session: Session, new: str) -> None:
        """
        Move C{session}'s name, C{new} checked free, in this process and
        tell the sessions here that can see it.
        """
        old = session.name
        oldKey, newKey = names.key(old), names.key(new)
        del self._looks[names.skeleton(old)]
        self._looks[names.skeleton(new)] = newKey
        self._sessions = _rekey(self._sessions, oldKey, newKey)
        for room in session.rooms:
            room.members = _rekey(room.members, oldKey, newKey)
        session.name = new
        self._broadcast("renamed", (old, new), self._neighbours(session))

    def quit(self, session: Session, reason: str) -> list[str]:
        if session.name is None or self.holder(session.name) is not session:
            return []
        left = [room.name for room in session.rooms]
        others = {id(member): member for room in session.rooms
                  for member in self._audience(room, session) if member is not session}
        for room in list(session.rooms):
            self._remove(session, room)
        del self._sessions[names.key(session.name)]
        del self._looks[names.skeleton(session.name)]
        session.current = None
        self._broadcast("quit", (session.name, reason), others.values())
        return left

    def room(self, name: str) -> Room | None:
        return self._rooms.get(names.key(name[1:] if name.startswith("#") else name))

    def rooms(self) -> list[Room]:
        return list(self._rooms.values())

    def listRooms(self) -> Deferred[list[tuple[Room, int]]]:
        return succeed([(room, len(room.members)) for room in self._rooms.values()])

    def who(self, room: Room) -> Deferred[list[str]]:
        return succeed([member.name for member in room.members.values()])

    def enter(self, session: Session, name: str) -> Deferred[tuple[Room, bool]]:
        try:
            return succeed(self._enter(session, names.checkRoom(name)))
        except ChatError:
            return fail()

    def _enter(self, session: Session, name: str) -> tuple[Room, bool]:
        """
        Put C{session} in room C{name} (checked) in this process, telling
        the sessions here that see it.
        """
        room = self._rooms.get(names.key(name))
        if room is None:
            room = self._rooms[names.key(name)] = Room(name)
        new = room not in session.rooms
        if new:
            room.members[names.key(session.name)] = session
            session.rooms.append(room)
            self._broadcast("joined", (room.name, session.name), self._audience(room, session))
            if room.topic:
                session.send(session.render.topic(room.name, "-", room.topic))
        session.current = room
        return room, new

    def leave(self, session: Session, room: Room, reason: str,
              by: Session | None = None) -> None:
        if by is None:
            self._broadcast("parted", (room.name, session.name, reason),
                            self._audience(room, session))
        else:
            # Everybody sees a kick: it is moderation, not traffic.
            self._broadcast("kicked", (room.name, session.name, by.name, reason),
                            room.members.values())
        self._remove(session, room)
        if session.current is room:
            session.current = session.rooms[-1] if session.rooms else None

    def setTopic(self, session: Session, room: Room, text: str) -> None:
        room.topic = text
        self._broadcast("topic", (room.name, session.name, text), room.members.values())

    def publish(self, run: list[Message], where: str) -> None:
        room = self._rooms.get(run[0].room)
        if room is None:
            return
        shared = RunCache(run, where)
        for member in list(room.members.values()):
            try:
                member.deliverRun(shared)
            except Exception:
                self.log.failure("delivery to {peer} failed", peer=member.connection.peer)

    def deliverPrivate(self, message: Message, where: str, sender: Session) -> Deferred[bool]:
        recipient = self._sessions.get(message.recipient)
        if recipient is None:
            return succeed(False)
        showPrivate(message, where, (sender, recipient))
        return succeed(True)

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

    def _neighbours(self, session: Session) -> list[Session]:
        """
        Everybody who shares a room with C{session}, itself included, once.
        """
        seen = {id(session): session}
        for room in session.rooms:
            for member in room.members.values():
                seen.setdefault(id(member), member)
        return list(seen.values())

    def _remove(self, session: Session, room: Room) -> None:
        del room.members[names.key(session.name)]
        session.rooms.remove(room)
        if not room.members:
            del self._rooms[room.key]

    def _broadcast(self, event: str, args: tuple, sessions: Iterable[Session]) -> None:
        """
        Tell every session of an C{event} (an L{IRender} method, called
        with C{args}), built once per renderer; one failing recipient must
        not keep the line from the others.
        """
        built: dict[int, bytes] = {}
        for session in list(sessions):
            try:
                render = session.render
                data = built.get(id(render))
                if data is None:
                    data = built[id(render)] = getattr(render, event)(*args)
                session.send(data)
            except Exception:
                self.log.failure("delivery to {peer} failed", peer=session.connection.peer)


def nameTaken(name: str) -> ChatError:
    """
    The refusal of a name somebody holds.
    """
    return ChatError(f"the name {name} is taken, choose another", "name-taken")


def nameLooksLike(name: str, other: str) -> ChatError:
    """
    The refusal of a name that looks like one somebody holds.
    """
    return ChatError(f"the name {name} looks like {other}, who is online; choose another",
                     "name-taken")


def showPrivate(message: Message, where: str, sessions: Iterable[Session]) -> None:
    """
    Show a private message to those of C{sessions} (its sender, its
    recipient, each once) who do not ignore its sender; its sender always.
    """
    for target in {id(s): s for s in sessions}.values():
        if names.key(target.name or "") == names.key(message.sender) or not (
                target.ignoring and names.key(message.sender) in target.ignoring):
            target.send(target.show(message, where), message.id)


def _rekey(members: dict[str, Session], old: str, new: str) -> dict[str, Session]:
    # A rename keeps the place in the order of arrival.
    return {new if k == old else k: v for k, v in members.items()}
