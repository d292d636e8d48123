# -*- test-case-name: tests.test_identity_hashing -*-
"""
Where password hashes are computed: one thread of their own, at the
lowest priority.

scrypt is slow on purpose and releases the GIL, so a burst of logins run
in the reactor's shared pool (ten threads) would take nearly all the CPU
from the reactor and stall everyone's chat.  One thread, niced, keeps
logins queued behind each other and the chat responsive (bench/, scenario
"logins while chatting").
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable, TypeVar

from twisted.application.service import Service
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")

#: The niceness of the hashing thread: the lowest priority there is.
NICENESS = 19

_thread = threading.local()


def _lowly(function: Callable[..., T], *args: Any) -> T:
    """
    Run C{function} in this thread after lowering its priority, once.
    """
    if not getattr(_thread, "niced", False):
        _thread.niced = True
        try:
            # On Linux, a thread id as the "process" sets that thread only.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
        except (AttributeError, OSError):
            pass  # Elsewhere the thread of its own still queues the hashes.
    return function(*args)


class PasswordHashing(Service):
    """
    The hashing thread, started and stopped with the server.
    """

    def __init__(self, reactor: IReactorFromThreads) -> None:
        self._reactor = reactor
        self._pool = ThreadPool(minthreads=1, maxthreads=1, name="password-hashing")

    def startService(self) -> None:
        super().startService()
        self._pool.start()

    def stopService(self) -> None:
        super().stopService()
        self._pool.stop()

    def defer(self, function: Callable[..., T], *args: Any) -> Deferred[T]:
        """
        Run C{function(*args)} in the hashing thread.
        """
        return deferToThreadPool(self._reactor, self._pool, _lowly, function, *args)
