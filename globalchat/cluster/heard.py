# -*- test-case-name: tests.test_cluster_bus -*-
"""
What other nodes of a cluster say on the pub/sub channels (the events of
L{globalchat.cluster.events}), shown to the sessions of this node it is for.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterable

from globalchat.chat.bus import DEFAULT_ANNOUNCE_LIMIT, LocalBus, showPrivate
from globalchat.cluster.events import decodeMessages, loads

if TYPE_CHECKING:
    from globalchat.chat.session import Session

#: How many nick and quit event ids a node remembers, to show each once
#: although it comes on the channel of every room it concerns.
_SEEN = 4096


class HeardBus(LocalBus):
    """
    The half of a node's bus that listens: each event another node
    published is shown, once, to the sessions here in its rooms.

    @ivar nodeId: this node's id; its own events are not shown again.
    """

    def __init__(self, nodeId: str, announceLimit: int = DEFAULT_ANNOUNCE_LIMIT) -> None:
        super().__init__(announceLimit)
        self.nodeId = nodeId
        #: Members of each room here, on every node, as last heard.
        self._counts: dict[str, int] = {}
        self._seen: deque[str] = deque(maxlen=_SEEN)
        self._seenSet: set[str] = set()

    def received(self, channel: str, text: str) -> None:
        """
        Show what another node published to the sessions here it is for.
        """
        event = loads(text)
        if event.get("n") == self.nodeId:
            return
        handler = getattr(self, f"_heard_{event.get('t')}", None)
        if handler is not None:
            handler(event)

    def _heard_msg(self, event: dict) -> None:
        LocalBus.publish(self, decodeMessages(event["m"]), event["w"])

    def _heard_priv(self, event: dict) -> None:
        message = decodeMessages(loads(event["p"])["m"])[0]
        recipient = self._sessions.get(message.recipient)
        if recipient is not None:
            showPrivate(message, event["w"], (recipient,))

    def _heard_join(self, event: dict) -> None:
        room = self._rooms.get(event["r"])
        if room is None:
            return
        self._counts[room.key] = event["c"]
        if event["c"] <= self.announceLimit:
            self._broadcast("joined", (room.name, event["name"]), room.members.values())

    def _heard_part(self, event: dict) -> None:
        room = self._rooms.get(event["r"])
        if room is None:
            return
        self._counts[room.key] = event["c"] - 1
        if event["by"]:
            self._broadcast("kicked", (room.name, event["name"], event["by"], event["why"]),
                            room.members.values())
        elif event["c"] <= self.announceLimit:
            self._broadcast("parted", (room.name, event["name"], event["why"]),
                            room.members.values())

    def _heard_topic(self, event: dict) -> None:
        room = self._rooms.get(event["r"])
        if room is not None:
            room.topic = event["text"]
            self._broadcast("topic", (room.name, event["name"], event["text"]),
                            room.members.values())

    def _heard_nick(self, event: dict) -> None:
        if self._once(event["e"]):
            self._broadcast("renamed", (event["old"], event["new"]),
                            self._members(key for key in event["rooms"]))

    def _heard_quit(self, event: dict) -> None:
        if not self._once(event["e"]):
            return
        told = []
        for key, before in event["rooms"]:
            if key in self._rooms:
                self._counts[key] = before - 1
                if before <= self.announceLimit:
                    told.append(key)
        self._broadcast("quit", (event["name"], event["why"]), self._members(told))

    def _members(self, rooms: Iterable[str]) -> list[Session]:
        """
        The sessions here in any of C{rooms}, once each.
        """
        seen: dict[int, Session] = {}
        for key in rooms:
            room = self._rooms.get(key)
            for member in room.members.values() if room is not None else ():
                seen.setdefault(id(member), member)
        return list(seen.values())

    def _once(self, eventId: str) -> bool:
        """
        Whether the event C{eventId} is heard for the first time.
        """
        if eventId in self._seenSet:
            return False
        if len(self._seen) == self._seen.maxlen:
            self._seenSet.discard(self._seen[0])
        self._seen.append(eventId)
        self._seenSet.add(eventId)
        return True
