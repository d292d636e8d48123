"""
Tests for L{globalchat.expose.nat}.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.expose import nat


class ClassifyTests(SynchronousTestCase):
    """
    Sorting external addresses.
    """

    def test_kinds(self):
        """
        Public, carrier-grade shared, private and other addresses are told
        apart, IPv4 and IPv6.
        """
        cases = {
            "8.8.8.8": nat.PUBLIC,
            "2a00:1450::1": nat.PUBLIC,
            "100.64.0.1": nat.SHARED,
            "100.127.255.254": nat.SHARED,
            "10.1.2.3": nat.PRIVATE,
            "172.16.0.1": nat.PRIVATE,
            "192.168.1.1": nat.PRIVATE,
            "fd00::1": nat.PRIVATE,
            "127.0.0.1": nat.OTHER,
            "169.254.1.1": nat.OTHER,
            "203.0.113.7": nat.OTHER,
            "0.0.0.0": nat.OTHER,
            "garbage": nat.OTHER,
        }
        for address, kind in cases.items():
            self.assertEqual((address, nat.classify(address)), (address, kind))


class AlternativesTests(SynchronousTestCase):
    """
    What to do when the home router cannot help.
    """

    def test_withoutIPv6(self):
        """
        Every way out is named, IPv6 first, with where to find out about it.
        """
        advice = nat.alternatives()
        for words in ("use IPv6 if your provider offers it (globalchat-doctor shows",
                      "public IPv4 address", "--port onion:PORT", "a small rented server"):
            self.assertIn(words, advice)

    def test_withIPv6(self):
        """
        A machine with a global IPv6 address is told to use it.
        """
        advice = nat.alternatives(["2a01:4f8::2"])
        self.assertTrue(advice.startswith(
            "this machine has the global IPv6 address 2a01:4f8::2: listen on it too "
            "(--port tcp6:PORT:interface=\\:\\:)"), advice)
