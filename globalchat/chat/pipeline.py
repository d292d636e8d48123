# -*- test-case-name: tests.test_chat_history -*-
"""
The path of a message: stored first, with the other messages of the same
read and those that came while the store was busy, then formatted once
and handed to the bus for its recipients.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat.bus import IBus
from globalchat.chat.counters import Counters
from globalchat.chat.errors import ChatError
from globalchat.chat.session import Session
from globalchat.chat.text import balanceBidi
from globalchat.store.interface import IMessageStore, Message


class MessagePipeline:
    """
    Messages on their way from their senders to their recipients.

    @param display: the name to show for a recipient's name key.
    @param counters: where store writes are counted and timed.
    @param now: the clock they are timed with.
    """

    log = Logger()

    def __init__(self, store: IMessageStore, bus: IBus, display: Callable[[str], str],
                 counters: Counters, now: Callable[[], float]) -> None:
        self._store = store
        self._bus = bus
        self._display = display
        self._counters = counters
        self._now = now
        self._drafts: list[tuple[Session, Message]] = []
        self._batching = 0
        #: Whether a store write is under way: what comes meanwhile waits
        #: for it, and goes in the next write, together.
        self._storing = False

    def submit(self, session: Session, draft: Message) -> None:
        """
        Store C{draft} with the other messages of this batch, then deliver
        it; its sender's answer waits for that.
        """
        draft.text = balanceBidi(draft.text)
        session.submitted()
        self._counters.storeWaiting += 1
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
        same batch follow, or a store write is under way (then with the
        messages that come meanwhile, once it is done: under load, one
        transaction and one fan-out per room for everything that arrived
        in that time, instead of one per read).
        """
        if self._batching or self._storing or not self._drafts:
            return
        batch, self._drafts = self._drafts, []
        self._storing = True
        started = self._now()
        d = self._store.append([draft for _, draft in batch])
        d.addBoth(self._stored, started, len(batch))
        d.addCallbacks(self._deliver, self._notStored, callbackArgs=(batch,),
                       errbackArgs=(batch,))
        d.addErrback(lambda f: self.log.failure("delivering messages failed", f))
        d.addCallback(self._next)

    def _next(self, _: None) -> None:
        """
        A store write and its delivery are done: store what came meanwhile.
        """
        self._storing = False
        self.lineDone()

    def _stored(self, result: object, started: float, count: int) -> object:
        """
        Count and time a store write, passing its result on.
        """
        self._counters.stored(self._now() - started, count, isinstance(result, Failure))
        return result

    def _deliver(self, results: list[tuple[Message, bool]],
                 batch: list[tuple[Session, Message]]) -> None:
        run: list[Message] = []
        senders: list[Session] = []
        for (session, draft), (message, duplicate) in zip(batch, results):
            if draft.clientTags is not None:
                message.clientTags = draft.clientTags
            if message.room is not None and not duplicate:
                if run and run[0].room != message.room:
                    self._publish(run, senders)
                    run, senders = [], []
                run.append(message)
                senders.append(session)
                continue
            if run:
                self._publish(run, senders)
                run, senders = [], []
            if duplicate and not _resent(draft, message):
                # An id used before for another message: whoever sends it
                # learns nothing of that one.
                session.send(session.render.error(f"the id {draft.clientId} was used for "
                                                  "another message: send this one with a new id"))
            elif duplicate:
                # Stored before: the sender only gets its copy back.
                session.send(session.show(message, self.where(message)), message.id)
            else:
                self._deliverPrivate(session, message)
        if run:
            self._publish(run, senders)
        self._settle(batch)

    def _publish(self, run: list[Message], senders: list[Session]) -> None:
        """
        Hand a run of one room's messages to the bus; if it cannot take
        them now, their senders are told so instead of their copies.
        """
        try:
            self._bus.publish(run, self.where(run[0]))
        except ChatError as e:
            for session in {id(s): s for s in senders}.values():
                session.send(session.render.error(str(e)))

    def _notStored(self, failure: Failure, batch: list[tuple[Session, Message]]) -> None:
        if failure.check(ChatError):
            # The store says why (its service away, which it logs once).
            why = failure.getErrorMessage()
        else:
            self.log.failure("storing {count} messages failed", failure, count=len(batch))
            why = "your message could not be stored; send it again"
        for session, _ in batch:
            session.send(session.render.error(why))
        self._settle(batch)

    def _settle(self, batch: list[tuple[Session, Message]]) -> None:
        done = {id(session): session for session, _ in batch if session.settled()}
        for session in done.values():
            session.release()

    def _deliverPrivate(self, session: Session, message: Message) -> None:
        where = recipient = self.where(message)

        def delivered(online: bool) -> Deferred[None] | None:
            if online:
                return None
            return self._store.queue(message.recipient, message.id).addCallbacks(kept, lost)

        def kept(_: None) -> None:
            session.send(session.render.notice(f"{recipient} is offline: they get your "
                                               "message when they next log in"))
            session.send(session.show(message, where), message.id)

        def lost(failure: Failure) -> None:
            self.log.failure("keeping a private message failed", failure)
            session.send(session.render.error(f"{recipient} is offline and your message could "
                                              "not be kept for them; send it again later"))

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            session.send(session.render.error(failure.getErrorMessage()))

        # Its answer (its copy, or a notice that it is kept) waits for this.
        session.submitted()
        d = self._bus.deliverPrivate(message, where, session)
        d.addCallbacks(delivered, refused)
        d.addErrback(lambda f: self.log.failure("delivering a private message failed", f))
        d.addBoth(lambda _: self._settle([(session, message)]))

    def where(self, message: Message) -> str:
        """
        Where a stored message was said, as displayed: its room's name, or
        for a private message its recipient's.
        """
        if message.room is None:
            return self._display(message.recipient)
        room = self._bus.room(message.room)
        return room.name if room is not None else message.room


def _resent(draft: Message, stored: Message) -> bool:
    """
    Whether C{draft} is a re-send of C{stored} (a client that lost the
    answer to it), not another message under the same id.
    """
    return (draft.kind, draft.room, draft.recipient, draft.text) == (
        stored.kind, stored.room, stored.recipient, stored.text)
