# -*- test-case-name: tests.test_cluster_bus -*-
"""
The bus of a cluster node: names, rooms and topics kept in Redis for every
node, and lines fanned out through Redis's pub/sub.

Each node keeps, as L{LocalBus} does, its own sessions and the rooms they
are in (with only its own sessions as members).  What must be one for the
whole cluster is decided in Redis, by one Lua script per change
(L{globalchat.cluster.busscripts}): a name is claimed there before a
session gets it, so two nodes cannot both give it out.

A line is published once, to its room's channel: the node it was said on
delivers it to its own members at once (the sender's copy is its answer),
and every other node that has members in the room (only those subscribe
to its channel) delivers it to its own.  A private message goes to the
channel of the node that holds its recipient.  Events carry the id of the
node they came from, which has already shown them to its own sessions.

While Redis is away, what needs it fails at once with
L{RedisUnavailable} (the session answers C{ERROR}); what can only be done
(a quit, a connection closing) is done here and written to Redis when it
is back (L{RedisBus.resync}).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Iterable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat import names
from globalchat.chat.bus import DEFAULT_ANNOUNCE_LIMIT, Room, nameLooksLike, nameTaken, showPrivate
from globalchat.chat.errors import ChatError
from globalchat.cluster import busscripts, keys
from globalchat.cluster.connection import Redis, RedisUnavailable
from globalchat.cluster.events import dumps, encodeMessages
from globalchat.cluster.heard import HeardBus

if TYPE_CHECKING:
    from globalchat.chat.session import Session
    from globalchat.store.interface import Message

class RedisBus(HeardBus):
    """
    L{IBus} for one node of a cluster.

    @ivar nodeId: this node's id in Redis, new at every start.
    """

    log = Logger()

    def __init__(self, redis: Redis, announceLimit: int = DEFAULT_ANNOUNCE_LIMIT,
                 nodeId: str | None = None) -> None:
        super().__init__(nodeId or uuid.uuid4().hex[:12], announceLimit)
        self.redis = redis
        self._db = redis.address.db
        #: Joins under way, by room key: its channel must stay subscribed.
        self._entering: dict[str, int] = {}
        self._claiming: set[str] = set()
        self._events = 0
        redis.listen(self.received)
        redis.follow(keys.nodeChannel(self._db, self.nodeId))

    # -- talking to Redis ----------------------------------------------------

    def _eval(self, script: str, *args) -> Deferred:
        return self.redis.eval(script, [], [keys.PREFIX, self._db, *args])

    def _available(self) -> None:
        """
        @raise RedisUnavailable: when what needs Redis cannot be done now.
        """
        if not self.redis.available:
            raise RedisUnavailable()

    def _later(self, d: Deferred) -> None:
        """
        Let C{d} (a write nobody waits for) fail quietly if Redis went
        away meanwhile: the outage is logged once, and L{resync} writes
        this node's state again when Redis is back.
        """
        d.addErrback(_quietly)

    def _announce(self, rooms: Iterable[str], event: dict) -> None:
        """
        Publish C{event} on the channels of C{rooms}.
        """
        event["n"] = self.nodeId
        text = dumps(event)
        for room in rooms:
            self._later(self.redis.publish(keys.roomChannel(self._db, room), text))

    def _eventId(self) -> str:
        self._events += 1
        return f"{self.nodeId}:{self._events}"

    # -- names -----------------------------------------------------------------

    def claim(self, session: Session, name: str) -> Deferred[None]:
        key = names.key(name)
        try:
            self.checkFree(session, name)
            if key in self._claiming:
                raise nameTaken(name)
            self._available()
        except ChatError:
            return fail()
        self._claiming.add(key)

        def claimed(answer: list) -> None:
            _refuse(name, answer)
            if session.gone:
                self._later(self._eval(busscripts.QUIT, key, self._eventId(), self.nodeId,
                                       "connection closed"))
                raise ChatError("the connection closed")
            self._claim(session, name)

        def done(result: object) -> object:
            self._claiming.discard(key)
            return result

        d = self._eval(busscripts.CLAIM, key, names.skeleton(name), name, self.nodeId)
        return d.addCallback(claimed).addBoth(done)

    def online(self, name: str) -> Deferred[str | None]:
        here = self.holder(name)
        if here is not None:
            return succeed(here.name)
        if not self.redis.available:
            return fail(RedisUnavailable())
        return self._eval(busscripts.ONLINE, names.key(name)).addCallback(lambda shown: shown or None)

    def rename(self, session: Session, new: str) -> Deferred[None]:
        try:
            self.checkFree(session, new)
            self._available()
        except ChatError:
            return fail()
        old = session.name

        def renamed(answer: list) -> None:
            _refuse(new, answer)
            rooms = [room.key for room in session.rooms]
            self._rename(session, new)
            self._announce(rooms, {"t": "nick", "e": self._eventId(), "old": old, "new": new,
                                   "rooms": rooms})

        d = self._eval(busscripts.RENAME, names.key(old), names.key(new), names.skeleton(new),
                       new, self.nodeId)
        return d.addCallback(renamed)

    def quit(self, session: Session, reason: str) -> list[str]:
        if session.name is None or self.holder(session.name) is not session:
            return []
        name = session.name
        left = super().quit(session, reason)
        if self.redis.available:
            self._later(self._eval(busscripts.QUIT, names.key(name), self._eventId(),
                                   self.nodeId, reason))
        return left

    # -- rooms -------------------------------------------------------------------

    def listRooms(self) -> Deferred[list[tuple[Room, int]]]:
        if not self.redis.available:
            return fail(RedisUnavailable())

        def rooms(flat: list) -> list[tuple[Room, int]]:
            found = []
            for i in range(0, len(flat), 4):
                key, name, topic, count = flat[i:i + 4]
                room = self._rooms.get(key)
                if room is None:
                    room = Room(name)
                    room.topic = topic
                found.append((room, int(count)))
            return found

        return self._eval(busscripts.ROOMS).addCallback(rooms)

    def who(self, room: Room) -> Deferred[list[str]]:
        if not self.redis.available:
            return fail(RedisUnavailable())
        return self._eval(busscripts.WHO, room.key).addCallback(list)

    def enter(self, session: Session, name: str) -> Deferred[tuple[Room, bool]]:
        try:
            name = names.checkRoom(name)
            key = names.key(name)
            here = self._rooms.get(key)
            if here is not None and here in session.rooms:
                return succeed(self._enter(session, name))
            self._available()
        except ChatError:
            return fail()
        self._entering[key] = self._entering.get(key, 0) + 1
        # Subscribed first, so that nothing said after the join is missed.
        d = self.redis.subscribe(keys.roomChannel(self._db, key))
        d.addCallback(lambda _: self._eval(busscripts.ENTER, key, name, names.key(session.name)))

        def entered(answer: list) -> tuple[Room, bool]:
            _, roomName, topic, count = answer
            self._counts[key] = int(count)
            if session.gone:
                raise ChatError("the connection closed")
            room = self._rooms.get(key)
            if room is None:
                room = self._rooms[key] = Room(roomName)
                room.topic = topic
            room, new = self._enter(session, room.name)
            if new:
                self._announce([key], {"t": "join", "r": key, "name": session.name,
                                       "c": int(count)})
            return room, new

        def done(result: object) -> object:
            self._entering[key] -= 1
            if not self._entering[key]:
                del self._entering[key]
                if key not in self._rooms:
                    self._forget(key)
            return result

        return d.addCallback(entered).addBoth(done)

    def leave(self, session: Session, room: Room, reason: str,
              by: Session | None = None) -> None:
        self._available()
        before = self._counts.get(room.key, len(room.members))
        super().leave(session, room, reason, by)
        if room.key in self._counts:
            self._counts[room.key] = before - 1
        self._later(self._eval(busscripts.LEAVE, room.key, names.key(session.name)))
        self._announce([room.key], {"t": "part", "r": room.key, "name": session.name,
                                    "why": reason, "by": by.name if by else None, "c": before})

    def setTopic(self, session: Session, room: Room, text: str) -> None:
        self._available()
        super().setTopic(session, room, text)
        self._later(self._eval(busscripts.TOPIC, room.key, text))
        self._announce([room.key], {"t": "topic", "r": room.key, "name": session.name,
                                    "text": text})

    def _remove(self, session: Session, room: Room) -> None:
        super()._remove(session, room)
        if room.key not in self._rooms:
            self._forget(room.key)

    def _forget(self, key: str) -> None:
        """
        No session here is in room C{key} any more: stop hearing it.
        """
        if key in self._entering:
            return
        self._counts.pop(key, None)
        self.redis.unsubscribe(keys.roomChannel(self._db, key))

    def _audience(self, room: Room, session: Session) -> Iterable[Session]:
        if self._counts.get(room.key, len(room.members)) > self.announceLimit:
            return (session,)
        return room.members.values()

    # -- lines ---------------------------------------------------------------------

    def publish(self, run: list[Message], where: str) -> None:
        self._available()
        super().publish(run, where)
        self._announce([run[0].room], {"t": "msg", "w": where, "m": encodeMessages(run)})

    def deliverPrivate(self, message: Message, where: str, sender: Session) -> Deferred[bool]:
        if message.recipient in self._sessions:
            return super().deliverPrivate(message, where, sender)
        if not self.redis.available:
            return fail(RedisUnavailable())

        def found(shown: str | None) -> bool:
            if not shown:
                return False
            showPrivate(message, shown, (sender,))
            return True

        payload = dumps({"m": encodeMessages([message])})
        return self._eval(busscripts.PRIVATE, message.recipient, payload).addCallback(found)

    # -- after an outage -----------------------------------------------------------

    def resync(self) -> Deferred[None]:
        """
        Write this node's names and memberships to Redis again (it may
        have restarted empty, or cleared this node away as dead while it
        could not beat), and free in Redis the names that left meanwhile.
        A name another node took meanwhile is lost: its session is told
        why and disconnected.
        """
        sessions = list(self)
        entries = [[names.key(s.name), s.name, names.skeleton(s.name),
                    [[room.key, room.name] for room in s.rooms]] for s in sessions]

        def lost(taken: list[str]) -> None:
            for key in taken:
                session = self._sessions.get(key)
                if session is not None:
                    self.log.warn("{name} was taken on another server while this one was "
                                  "cut off from Redis", name=session.name)
                    session.closeWith(session.render.error(
                        f"while this server was cut off from the chat, somebody took the name "
                        f"{session.name} on another server"))

        return self._eval(busscripts.RESYNC, self.nodeId, dumps(entries)).addCallback(lost)


def _refuse(name: str, answer: list) -> None:
    """
    @raise ChatError: when a claim script said C{name} is not free.
    """
    if answer[0] == "taken":
        raise nameTaken(name)
    if answer[0] == "looks":
        raise nameLooksLike(name, answer[1])


def _quietly(failure: Failure) -> None:
    if not failure.check(RedisUnavailable):
        RedisBus.log.failure("a write to Redis failed", failure)
