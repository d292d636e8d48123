"""
Tests for L{globalchat.store.service}: the history's part in the server's
life, and retention in the background.
"""

from twisted.internet.defer import fail, succeed
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.store.memory import MemoryStore
from globalchat.store.service import PRUNE_INTERVAL, HistoryService


class RecordingStore(MemoryStore):
    """
    A store that records how it is started, pruned and closed.
    """

    def __init__(self):
        super().__init__()
        self.calls = []

    def start(self):
        self.calls.append("start")

    def prune(self, before, keepPerRoom):
        self.calls.append(("prune", before, keepPerRoom))
        return succeed(0)

    def close(self):
        self.calls.append("close")
        return succeed(None)


class HistoryServiceTests(SynchronousTestCase):
    """
    The store starts with the server, is pruned every ten minutes while it
    runs, and closes when it stops.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.store = RecordingStore()

    def test_pruneByAgeAndCount(self):
        """
        Retention prunes at start and then every interval, by age and
        count.
        """
        service = HistoryService(self.store, self.clock, maxAge=86400.0, maxPerRoom=500)
        service.startService()
        self.clock.advance(PRUNE_INTERVAL)
        service.stopService()
        self.clock.advance(PRUNE_INTERVAL)
        self.assertEqual(self.store.calls, [
            "start",
            ("prune", 1_000_000 - 86400.0, 500),
            ("prune", 1_000_000 + PRUNE_INTERVAL - 86400.0, 500),
            "close",
        ])

    def test_keepEverything(self):
        """
        With neither limit, nothing is pruned.
        """
        service = HistoryService(self.store, self.clock, maxAge=None, maxPerRoom=None)
        service.startService()
        self.clock.advance(10 * PRUNE_INTERVAL)
        service.stopService()
        self.assertEqual(self.store.calls, ["start", "close"])

    def test_failedPruneRetried(self):
        """
        A pruning that fails is logged and tried again next time.
        """
        self.store.prune = lambda before, keep: fail(OSError("disk I/O error"))
        service = HistoryService(self.store, self.clock, maxAge=None, maxPerRoom=10)
        service.startService()
        self.clock.advance(PRUNE_INTERVAL)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 2)
        service.stopService()
