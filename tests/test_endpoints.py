"""
Tests for L{globalchat.endpoints}: endpoint strings refused in words a
user understands.
"""

from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase

from globalchat.endpoints import BadEndpoint, clientEndpoint, serverEndpoint


class EndpointTests(SynchronousTestCase):
    def test_good(self):
        """
        The usual server and client strings parse.
        """
        reactor = MemoryReactor()
        serverEndpoint(reactor, "tcp:12345")
        serverEndpoint(reactor, "unix:/tmp/chat.sock")
        clientEndpoint(reactor, "tcp:127.0.0.1:12345")

    def test_bad(self):
        """
        A bad string is one line naming the option, the string, what is
        wrong and what a good one looks like; never Python's own words.
        """
        reactor = MemoryReactor()
        for parse, text, wanted in [
                (serverEndpoint, "tcp:abc", "bad --port 'tcp:abc'"),
                (serverEndpoint, "tcp:99999", "port 99999 is not from 0 to 65535"),
                (serverEndpoint, "bogus:1", "bad --port 'bogus:1'"),
                (clientEndpoint, "tcp:127.0.0.1:notaport", "bad --endpoint"),
                (clientEndpoint, "bogus:1", "bad --endpoint 'bogus:1'")]:
            e = self.assertRaises(BadEndpoint, parse, reactor, text)
            self.assertIn(wanted, str(e))
            self.assertNotIn("invalid literal", str(e))
            self.assertNotIn("\n", str(e))
