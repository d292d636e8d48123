# -*- test-case-name: tests.test_cluster_bus -*-
"""
What nodes tell each other on the pub/sub channels, as JSON text: one
object per event, with C{t} its type and C{n} the node it came from (the
node itself has already told its own users).

On a room's channel::

    {"t": "msg", "n": NODE, "w": ROOM-AS-SHOWN, "m": [MESSAGE, ...]}
    {"t": "join", "n": NODE, "r": ROOM-KEY, "name": NAME, "c": MEMBERS}
    {"t": "part", "n": NODE, "r": ROOM-KEY, "name": NAME, "why": REASON,
     "by": OPERATOR-OR-NULL, "c": MEMBERS-BEFORE}
    {"t": "topic", "n": NODE, "r": ROOM-KEY, "name": NAME, "text": TOPIC}
    {"t": "nick", "n": NODE, "e": EVENT-ID, "old": NAME, "new": NAME, "rooms": [ROOM-KEY, ...]}
    {"t": "quit", "n": NODE, "e": EVENT-ID, "name": NAME, "why": REASON,
     "rooms": [[ROOM-KEY, MEMBERS-BEFORE], ...]}

A nick or a quit is published once to each of the rooms it concerns and
shown once, by its id.  On a node's own channel (the Lua script that
finds the recipient adds C{w}, the recipient's name as shown)::

    {"t": "priv", "w": RECIPIENT-AS-SHOWN, "p": "{\\"m\\": [MESSAGE]}"}

A MESSAGE is C{[time, room, sender, recipient, kind, text, clientId, id]}.
"""

from __future__ import annotations

import json

from globalchat.store.interface import Message


def dumps(event: dict) -> str:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def loads(text: str) -> dict:
    return json.loads(text)


def encodeMessages(run: list[Message]) -> list[list]:
    return [[m.time, m.room, m.sender, m.recipient, m.kind, m.text, m.clientId, m.id]
            for m in run]


def decodeMessages(data: list[list]) -> list[Message]:
    return [Message(*fields) for fields in data]
