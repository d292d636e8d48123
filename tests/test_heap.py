"""
Tests for L{globalchat.heap}: the collector set for a long-running server.
"""

import gc

from twisted.trial.unittest import SynchronousTestCase

from globalchat.heap import THRESHOLDS, QuietCollector


class QuietCollectorTests(SynchronousTestCase):
    def test_startAndStop(self):
        """
        Started, it freezes the objects that exist and raises the
        thresholds; stopped, it puts the collector back as it found it.
        """
        before = gc.get_threshold()
        collector = QuietCollector()
        collector.startService()
        self.addCleanup(lambda: collector.running and collector.stopService())
        self.assertEqual(gc.get_threshold(), THRESHOLDS)
        self.assertGreater(gc.get_freeze_count(), 0)
        collector.stopService()
        self.assertEqual(gc.get_threshold(), before)
        self.assertEqual(gc.get_freeze_count(), 0)
