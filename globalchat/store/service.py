# -*- test-case-name: tests.test_store_service -*-
"""
The history as part of the server's life: started with it, pruned in the
background while it runs (C{--history-days}, C{--history-max}), and
closed after the last message is written.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.store.interface import IMessageStore

#: Seconds between two prunings.
PRUNE_INTERVAL = 600


class HistoryService(Service):
    """
    Runs the store and its retention.

    @param maxAge: seconds a room message is kept, or C{None} for ever.
    @param maxPerRoom: how many messages each room keeps, or C{None} for
        all.
    """

    log = Logger()

    def __init__(self, store: IMessageStore, clock: IReactorTime,
                 maxAge: float | None, maxPerRoom: int | None) -> None:
        self.store = store
        self._clock = clock
        self._maxAge = maxAge
        self._maxPerRoom = maxPerRoom
        self._pruning = LoopingCall(self.prune)
        self._pruning.clock = clock

    def startService(self) -> None:
        super().startService()
        self.store.start()
        if self._maxAge is not None or self._maxPerRoom is not None:
            self._pruning.start(PRUNE_INTERVAL, now=True)

    def prune(self) -> Deferred[None]:
        """
        Delete what retention no longer keeps; a failure is logged and the
        next round tries again.
        """
        before = None if self._maxAge is None else self._clock.seconds() - self._maxAge
        d = self.store.prune(before, self._maxPerRoom)

        def pruned(count: int) -> None:
            if count:
                self.log.info("history: pruned {count} old messages", count=count)

        def failed(failure: Failure) -> None:
            self.log.failure("pruning the history failed", failure)

        return d.addCallbacks(pruned, failed)

    def stopService(self) -> Deferred[None]:
        super().stopService()
        if self._pruning.running:
            self._pruning.stop()
        return self.store.close()
