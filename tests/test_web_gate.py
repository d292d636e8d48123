"""
Tests for L{globalchat.web.gate}: origins and trusted proxies.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.policy import parseNetwork
from globalchat.web.gate import Gate, parseOrigin


class OriginTests(SynchronousTestCase):
    def test_parseOrigin(self):
        """
        An origin is written as browsers send it, lower case, no slash.
        """
        self.assertEqual(parseOrigin("https://Chat.Example.org/"), "https://chat.example.org")
        self.assertEqual(parseOrigin("http://192.0.2.7:8080"), "http://192.0.2.7:8080")
        for bad in ("chat.example.org", "ftp://x", "https://x/path", "https://x:port",
                    "https://u@x"):
            self.assertRaises(ValueError, parseOrigin, bad)

    def test_allows(self):
        """
        The server's own origin is the scheme it is reached by and its
        Host; a non-browser sends none.
        """
        gate = Gate(origins=["https://friends.example"])
        self.assertTrue(gate.allows("http://chat.example:8080", "Chat.example:8080", False))
        self.assertFalse(gate.allows("http://chat.example:8080", "chat.example:8080", True))
        self.assertFalse(gate.allows("http://chat.example:8080", "chat.example:8081", False))
        self.assertTrue(gate.allows("https://friends.example", "chat.example", False))
        self.assertTrue(gate.allows(None, "chat.example", False))
        self.assertFalse(gate.allows("null", "chat.example", False))


class ProxyTests(SynchronousTestCase):
    def test_client(self):
        """
        X-Forwarded-For is read from the right, through trusted proxies
        only; a peer that is not one is the client.
        """
        gate = Gate(proxies=parseNetwork("10.0.0.0/8") + parseNetwork("::1"))
        self.assertEqual(gate.client("10.1.1.1", ["203.0.113.1, 198.51.100.2"]), "198.51.100.2")
        self.assertEqual(gate.client("::1", ["203.0.113.1, 10.2.2.2"]), "203.0.113.1")
        self.assertEqual(gate.client("198.51.100.9", ["203.0.113.1"]), "198.51.100.9")
        self.assertEqual(gate.client("10.1.1.1", ["nonsense"]), "10.1.1.1")
        self.assertEqual(gate.client("10.1.1.1", []), "10.1.1.1")
        self.assertFalse(Gate().trusted("127.0.0.1"))
