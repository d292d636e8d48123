# -*- test-case-name: tests.test_tap -*-
"""
The moderation state (bans, registered rooms, operators) read from the
store once it runs, and on a cluster node again and again, since the
other nodes change it.
"""

from __future__ import annotations

from typing import Callable

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat.errors import ChatError

log = Logger()


class StateLoader(Service):
    """
    Reads state the chat keeps in the store (bans, rooms, operators) once
    the store runs, and with C{every}, again and again: on a cluster other
    nodes change it.  A failure is logged (once while it lasts; not at all
    for a store that is only away for now, which says so itself), and the
    server goes on with what it has.
    """

    def __init__(self, load: Callable[[], Deferred], what: str,
                 clock: IReactorTime | None = None, every: float | None = None,
                 again: Callable[[], Deferred] | None = None) -> None:
        """
        @param every: seconds between two readings, or C{None} for once.
        @param again: what to read every C{every} seconds (default C{load}).
        """
        self._load = load
        self._what = what
        self._every = every
        self._failing = False
        self._loop = LoopingCall(lambda: self._read(again or load))
        if clock is not None:
            self._loop.clock = clock

    def startService(self) -> None:
        super().startService()
        self.reload()
        if self._every is not None:
            self._loop.start(self._every, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._loop.running:
            self._loop.stop()

    def reload(self) -> Deferred[None]:
        """
        Read everything now.
        """
        return self._read(self._load)

    def _read(self, read: Callable[[], Deferred]) -> Deferred[None]:
        def done(_: object) -> None:
            self._failing = False

        def failed(failure: Failure) -> None:
            if not self._failing and not failure.check(ChatError):
                log.failure("reading the {what} failed", failure, what=self._what)
                self._failing = True

        return read().addCallbacks(done, failed)
