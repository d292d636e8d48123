"""
Tests for L{tests.processes}: the integration tests' helpers fail in
time instead of hanging the suite.
"""

import socket
import time

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import PipedClient


class PipedClientTests(SynchronousTestCase):
    """
    L{PipedClient} against a server that never says a word.
    """

    def test_missingLineFails(self):
        """
        Waiting for a line the client never prints fails once the time
        given is up.
        """
        silent = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        john = PipedClient(self, "127.0.0.1", str(silent.getsockname()[1]), "--name", "John")
        started = time.monotonic()
        self.assertRaises(AssertionError, john.waitFor, "Hello", timeout=0.5)
        self.assertLess(time.monotonic() - started, 5)
