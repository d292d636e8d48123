# -*- test-case-name: tests.test_heap -*-
"""
The garbage collector tuned for a server: what start-up made (modules,
options, the hub) is set aside for good, and collections come seldom.

Python's cycle collector runs after every 700 new container objects and,
now and then, walks every object there is.  A chat under load makes and
drops a few objects per line (drafts, tuples, Deferreds) that reference
counting frees at once; at the default thresholds the collector kept
walking the ones still in flight, and everything the server holds, for
about a tenth of its time in a burst.  Cycles are rare here, so a
collection every 50 000 objects loses nothing but a little memory for a
moment.
"""

from __future__ import annotations

import gc

from twisted.application.service import Service

#: Allocations between two young collections, and how many of each
#: generation's collections make one of the next (Python's: 700, 10, 10).
THRESHOLDS = (50_000, 20, 100)


class QuietCollector(Service):
    """
    Freezes what exists when the server starts, and raises the
    collector's thresholds; puts both back when it stops.
    """

    def __init__(self) -> None:
        self._before: tuple[int, int, int] | None = None

    def startService(self) -> None:
        super().startService()
        self._before = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(*THRESHOLDS)

    def stopService(self) -> None:
        super().stopService()
        if self._before is not None:
            gc.set_threshold(*self._before)
            gc.unfreeze()
            self._before = None
