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

History, offline messages and known names (L{globalchat.cluster.store})::

    globalchat:ids                   counter: the last message id given
    globalchat:messages              counter: how many messages are kept
    globalchat:clientids             hash: "SENDER\\nCLIENT-ID" -> "ID\\nKEY": the
                                     message stored under it and its history,
                                     while it is kept
    globalchat:histories             set: every history:/private: key
    globalchat:history:KEY           sorted set: a room's messages (JSON),
                                     scored by id
    globalchat:private:KEY           sorted set: the private messages to a
                                     name key, scored by id
    globalchat:pending:KEY           sorted set: the ids of those kept until
                                     it next logs in
    globalchat:known                 hash: name key -> [display, rooms, time
                                     it logged in or left]

Accounts (L{globalchat.cluster.accountstore})::

    globalchat:accounts              hash: account key -> [display,
                                     skeleton, created]
    globalchat:skeletons             hash: skeleton -> account key
    globalchat:passwords             hash: account key -> password hash
    globalchat:operators             set: the operators' account keys
    globalchat:certificates          hash: fingerprint -> account key
    globalchat:certificates:KEY      set: the fingerprints bound to an account
    globalchat:registered            hash: room key -> its registration
    globalchat:bans                  hash: mask -> the ban
    globalchat:audit                 list: moderation events, oldest first

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


NEXT_ID = PREFIX + "ids"
MESSAGES = PREFIX + "messages"
CLIENT_IDS = PREFIX + "clientids"
HISTORIES = PREFIX + "histories"
KNOWN = PREFIX + "known"
_PRIVATE = PREFIX + "private:"


def history(key: str) -> str:
    """
    A room's messages.
    """
    return f"{PREFIX}history:{key}"


def private(key: str) -> str:
    """
    The private messages to a name.
    """
    return _PRIVATE + key


def pending(key: str) -> str:
    """
    The ids of the private messages kept for a name until it logs in.
    """
    return f"{PREFIX}pending:{key}"


def pendingOf(history: str) -> str | None:
    """
    The kept ids that go with the history key C{history}: L{pending} for
    a name's L{private} messages, C{None} for a room's.
    """
    return pending(history[len(_PRIVATE):]) if history.startswith(_PRIVATE) else None


ACCOUNTS = PREFIX + "accounts"
SKELETONS = PREFIX + "skeletons"
PASSWORDS = PREFIX + "passwords"
OPERATORS = PREFIX + "operators"
CERTIFICATES = PREFIX + "certificates"
REGISTERED = PREFIX + "registered"
BANS = PREFIX + "bans"
AUDIT = PREFIX + "audit"

#: The keys one account is kept in.
ACCOUNT = [ACCOUNTS, SKELETONS, PASSWORDS, OPERATORS]


def certificates(key: str) -> str:
    """
    The fingerprints of the certificates bound to an account.
    """
    return f"{CERTIFICATES}:{key}"
