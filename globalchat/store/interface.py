"""
What the chat needs from a history store, whichever keeps it.

The hub is written against L{IMessageStore} only, so the same chat logic
runs on SQLite (L{globalchat.store.sqlite}) and on the in-memory store of
C{--no-history} (L{globalchat.store.memory}), and is tested on the latter
without threads.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface


class StoreError(Exception):
    """
    The history cannot be used; C{str()} is one line for the user.
    """


@dataclass(slots=True)
class Message:
    """
    One message, as sent (C{id} still C{None}) or as stored.  Not frozen
    only because a frozen dataclass is several times slower to make, and
    two are made for every line said; nothing changes one once made.

    @ivar time: UTC seconds since the epoch.
    @ivar room: the room's name key, or C{None} for a private message.
    @ivar sender: the sender's name as shown.
    @ivar recipient: for a private message, the recipient's name key.
    @ivar kind: in a room C{"msg"}, C{"act"} or C{"notice"}; between two
        users C{"priv"}, C{"privact"} or C{"privnotice"}.
    @ivar clientId: the id the sending client chose, for de-duplication.
    @ivar id: server-assigned once stored: strictly increasing, never
        reused.
    """

    time: float
    room: str | None
    sender: str
    recipient: str | None
    kind: str
    text: str
    clientId: str | None = None
    id: int | None = None
    #: Tags its sender's client gave it for other clients (IRCv3
    #: client-only tags), passed on live and not stored.
    clientTags: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Known:
    """
    A name that has logged in before: private messages to it are kept
    while it is away, and a client resuming under it gets its rooms back.

    @ivar display: the name as its owner writes it.
    @ivar rooms: the rooms it was in when it last left.
    """

    display: str
    rooms: tuple[str, ...] = ()


class IMessageStore(Interface):
    """
    Message history.  Everything after L{load} answers with a L{Deferred},
    and calls are carried out in the order they were made.
    """

    rows = Attribute("How many messages it keeps, as of its last write or pruning: a "
                     "figure for the operator, read without waiting for the store.")

    def load() -> dict[str, Known]:
        """
        Check (creating or migrating) the history, blocking, before the
        server starts, so that an unusable one is refused with a clear
        error before anything listens.

        @return: the known names, by name key.
        @raise StoreError: when the history cannot be used.
        """

    def start() -> None:
        """
        Make the store ready for the calls below, once the server runs.
        """

    def append(drafts: list[Message]) -> Deferred[list[tuple[Message, bool]]]:
        """
        Store C{drafts} in order; fires with each stored message (the
        draft itself, its id set, or a copy) and whether it duplicates one
        stored before (same sender and client id: then the earlier message
        is returned, not stored again).
        """

    def history(room: str, limit: int) -> Deferred[list[Message]]:
        """
        The last C{limit} messages of C{room}, oldest first.
        """

    def missed(recipient: str | None, rooms: list[str], afterId: int,
               limit: int) -> Deferred[list[Message]]:
        """
        The messages of C{rooms} and the private messages to C{recipient}
        with an id above C{afterId}, in id order: the newest C{limit} of
        them, so that a client away for long does not get the whole
        history at once.  A caller that must know whether some were left
        out asks for one more than it shows.

        @param recipient: C{None} for a guest, who has no private messages
            kept.
        """

    def queue(recipient: str, messageId: int) -> Deferred[None]:
        """
        Keep a private message for C{recipient} until it next logs in.
        """

    def takePending(recipient: str) -> Deferred[list[Message]]:
        """
        The private messages kept for C{recipient}, in id order, removed
        from the queue.
        """

    def remember(key: str, known: Known, now: float) -> Deferred[None]:
        """
        Record that the name C{key} logged in or left.
        """

    def known(key: str) -> Deferred[Known | None]:
        """
        What was last remembered of the name C{key}, or C{None}: for a
        store that several processes share, the names that left (or
        whose process died) on another.
        """

    def prune(before: float | None, keepPerRoom: int | None) -> Deferred[int]:
        """
        Delete room messages older than C{before} or beyond the newest
        C{keepPerRoom} of their room (private messages still queued are
        kept); fires with how many went.
        """

    def close() -> Deferred[None]:
        """
        Finish what was asked and release the store.
        """
