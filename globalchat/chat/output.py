# -*- test-case-name: tests.test_chat_output -*-
"""
What a server writes in one turn of the reactor, one write per connection.

A busy room gives each member several runs of lines in one turn (one per
read of each sender, one per store transaction, an event or two).  Each
write to a transport costs a call, a buffer entry and, when the
transport's buffer is joined, a copy; a session therefore queues its
bytes and L{TurnOutput} hands them over together once the turn's work is
done, with C{callLater(0)} on the injected clock.  A session sent one
block in a turn (the usual case in a fan-out) passes on the very bytes
every other member got, uncopied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

if TYPE_CHECKING:
    from globalchat.chat.session import Session


class TurnOutput:
    """
    The sessions that have bytes queued in this turn, and the one call
    that writes them out.
    """

    __slots__ = ("_clock", "_queued", "_call")

    log = Logger()

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._queued: list[Session] = []
        self._call: IDelayedCall | None = None

    def queued(self, session: Session) -> None:
        """
        C{session} queued its first bytes of this turn: write them (and
        what follows in the same turn) once the turn is over.
        """
        self._queued.append(session)
        if self._call is None:
            self._call = self._clock.callLater(0, self.flush)

    def flush(self) -> None:
        """
        Write every session's queued bytes, one write each; one failing
        transport must not keep the others' bytes back.
        """
        self._call = None
        queued, self._queued = self._queued, []
        for session in queued:
            try:
                session.flush()
            except Exception:
                self.log.failure("writing to {peer} failed", peer=session.connection.peer)
