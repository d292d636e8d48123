"""
Tests for L{globalchat.identity.hashing}: password hashes run in one
low-priority thread of their own.
"""

import os
import threading

from twisted.internet import reactor
from twisted.trial.unittest import TestCase

from globalchat.identity.hashing import NICENESS, PasswordHashing


class HashingTests(TestCase):
    def setUp(self):
        self.hashing = PasswordHashing(reactor)
        self.hashing.startService()
        self.addCleanup(self.hashing.stopService)

    async def test_oneLowlyThread(self):
        """
        Every hash runs in the same thread, not the reactor's, at the
        lowest priority (where the system allows setting it).
        """
        def where():
            return (threading.get_ident(),
                    os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

        first = await self.hashing.defer(where)
        second = await self.hashing.defer(where)
        self.assertEqual(first[0], second[0])
        self.assertNotEqual(first[0], threading.get_ident())
        self.assertEqual(first[1], NICENESS)
