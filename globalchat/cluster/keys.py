# -*- test-case-name: tests.test_cluster_keys -*-
"""
Every Redis key and pub/sub channel a cluster uses, named in one place.

Every name starts with L{PREFIX}, so a cluster's data can be told from
anything else kept in the same database.  Name keys and room keys are
those of L{globalchat.chat.names.key}: folded, so that one name has one key.

Nodes::

    globalchat:nodes                 sorted set: node id -> time of its last
                                     heartbeat (seconds since the epoch)
    globalchat:node:ID               hash: host, pid, started, clients, beat;
                                     expires HEARTBEAT_EXPIRY after its last
                                     heartbeat: a node whose key is gone is dead
    globalchat:node:ID:names         set: the name keys held on that node

Names, rooms and membership::

    globalchat:name:KEY              hash: display (the name as typed), node
    globalchat:look:SKELETON         string: the name key that looks like this
    globalchat:rooms                 set: every room key
    globalchat:room:KEY              hash: name (as first typed), topic
    globalchat:room:KEY:members      sorted set: name key -> order of arrival
    globalchat:user:KEY:rooms        set: the room keys a name is in

Channels (one publish per event; a node subscribes to what its users need).
Redis's pub/sub does not know databases, so a channel names its database
(DB) for clusters on two databases of one Redis not to hear each other::

    globalchat:DB:room:KEY           a room's messages and membership events
    globalchat:DB:to:ID              what is for one node only (private messages)
"""

from __future__ import annotations

#: What every key and channel of a cluster starts with.
PREFIX = "globalchat:"

#: Seconds between a node's heartbeats.
HEARTBEAT_INTERVAL = 2.0

#: Seconds after its last heartbeat that a node counts as dead: its key
#: expires, its names may be taken on other nodes, and the first live node
#: to notice tells its rooms that its users quit (within one more
#: L{HEARTBEAT_INTERVAL}).  Three heartbeats may be missed before that.
HEARTBEAT_EXPIRY = 3 * HEARTBEAT_INTERVAL

NODES = PREFIX + "nodes"
ROOMS = PREFIX + "rooms"


def node(nodeId: str) -> str:
    """
    The hash describing a live node, which expires with its heartbeats.
    """
    return f"{PREFIX}node:{nodeId}"


def nodeNames(nodeId: str) -> str:
    """
    The set of name keys held on a node.
    """
    return f"{PREFIX}node:{nodeId}:names"


def name(key: str) -> str:
    """
    The hash of a logged-in name: how it is displayed, which node holds it.
    """
    return f"{PREFIX}name:{key}"


def look(skeleton: str) -> str:
    """
    The name key of the logged-in name with this look-alike skeleton.
    """
    return f"{PREFIX}look:{skeleton}"


def room(key: str) -> str:
    """
    The hash of a room (its displayed name and topic), and its channel.
    """
    return f"{PREFIX}room:{key}"


def members(key: str) -> str:
    """
    A room's members, in order of arrival.
    """
    return f"{PREFIX}room:{key}:members"


def userRooms(key: str) -> str:
    """
    The rooms a logged-in name is in.
    """
    return f"{PREFIX}user:{key}:rooms"


def roomChannel(db: int, key: str) -> str:
    """
    The channel of a room's messages and membership events.
    """
    return f"{PREFIX}{db}:room:{key}"


def nodeChannel(db: int, nodeId: str) -> str:
    """
    The channel of what is for one node only.
    """
    return f"{PREFIX}{db}:to:{nodeId}"


def roomOfChannel(db: int, channel: str) -> str | None:
    """
    The room key a channel is the channel of, or C{None}.
    """
    head = f"{PREFIX}{db}:room:"
    return channel[len(head):] if channel.startswith(head) else None
