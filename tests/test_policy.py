"""
Tests for L{globalchat.policy}, with a L{Clock}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.policy import Gatekeeper, Limits, TokenBucket, parseNetwork, parseRate


class ParseTests(SynchronousTestCase):
    """
    Reading option values.
    """

    def test_network(self):
        """
        Addresses and networks, IPv4 and IPv6; host bits are forgiven.
        """
        self.assertEqual(list(map(str, parseNetwork("10.0.0.1/8"))), ["10.0.0.0/8"])
        self.assertEqual(list(map(str, parseNetwork("2001:db8::1"))), ["2001:db8::1/128"])
        e = self.assertRaises(ValueError, parseNetwork, "10.0.0.300")
        self.assertIn("'10.0.0.300'", str(e))

    def test_mappedNetwork(self):
        """
        A rule in IPv4-mapped form, as a dual-stack port logs IPv4 clients,
        is the IPv4 rule; a network holding all mapped addresses holds
        every IPv4 address too.
        """
        self.assertEqual(list(map(str, parseNetwork("::ffff:127.0.0.1/128"))), ["127.0.0.1/32"])
        self.assertEqual(list(map(str, parseNetwork("::ffff:10.0.0.0/104"))), ["10.0.0.0/8"])
        self.assertEqual(list(map(str, parseNetwork("::ffff:0:0/96"))), ["0.0.0.0/0"])
        self.assertEqual(list(map(str, parseNetwork("::/0"))), ["::/0", "0.0.0.0/0"])

    def test_rate(self):
        """
        Rates per second, minute or hour.
        """
        self.assertEqual(parseRate("10/s"), 10)
        self.assertEqual(parseRate("600/min"), 10)
        self.assertEqual(parseRate("2"), 2)
        for bad in ("0/s", "ten/s", "5/fortnight", "-1"):
            self.assertRaises(ValueError, parseRate, bad)


class TokenBucketTests(SynchronousTestCase):
    """
    L{TokenBucket}.
    """

    def test_burstThenRate(self):
        """
        A burst passes at once, then one line per 1/rate seconds.
        """
        bucket = TokenBucket(rate=2, burst=3, now=0)
        self.assertEqual([bucket.take(0) for _ in range(4)], [True, True, True, False])
        self.assertFalse(bucket.take(0.4))
        self.assertTrue(bucket.take(0.5))
        self.assertTrue(bucket.take(100))
        self.assertEqual(sum(bucket.take(100) for _ in range(10)), 2)


class GatekeeperTests(SynchronousTestCase):
    """
    L{Gatekeeper}.
    """

    def setUp(self):
        self.clock = Clock()

    def keeper(self, **kw):
        return Gatekeeper(self.clock, Limits(**kw))

    def test_denyAndAllow(self):
        """
        Deny wins; with an allow list only listed networks get in; IPv4
        clients of a dual-stack listener match IPv4 rules.
        """
        keeper = self.keeper(allow=parseNetwork("10.0.0.0/8") + parseNetwork("2001:db8::/32"),
                             deny=parseNetwork("10.6.6.6"))
        self.assertIsNone(keeper.screen("10.1.2.3"))
        self.assertIsNone(keeper.screen("::ffff:10.1.2.3"))
        self.assertIsNone(keeper.screen("2001:db8::5"))
        self.assertEqual(keeper.screen("10.6.6.6"), "denied by --deny")
        self.assertEqual(keeper.screen("192.0.2.1"), "not in --allow")
        self.assertEqual(keeper.screen("2001:db9::1"), "not in --allow")

    def test_counts(self):
        """
        Per-address and total limits; a released connection frees its slot.
        """
        keeper = self.keeper(maxConnections=3, maxPerIP=2)
        self.assertIsNone(keeper.admit("10.0.0.1"))
        self.assertIsNone(keeper.admit("10.0.0.1"))
        self.assertIn("too many connections", keeper.admit("10.0.0.1"))
        self.assertIsNone(keeper.admit("10.0.0.2"))
        self.assertIn("server full", keeper.admit("10.0.0.3"))
        keeper.release("10.0.0.1")
        self.assertIsNone(keeper.admit("10.0.0.3"))

    def test_banAfterStrikes(self):
        """
        Three strikes within the window ban the address for the ban time;
        strikes older than the window do not count.
        """
        keeper = self.keeper(banThreshold=3, banWindow=60, banTime=600)
        self.assertFalse(keeper.strike("10.0.0.1"))
        self.clock.advance(61)
        self.assertFalse(keeper.strike("10.0.0.1"))
        self.assertFalse(keeper.strike("10.0.0.1"))
        self.assertTrue(keeper.strike("10.0.0.1"))
        self.assertEqual(keeper.screen("10.0.0.1"), "banned")
        self.assertIsNone(keeper.screen("10.0.0.2"))
        self.clock.advance(600)
        self.assertIsNone(keeper.screen("10.0.0.1"))

    def test_mappedRulesBothWays(self):
        """
        A rule written either way matches a client seen either way: on an
        IPv4 port (plain) or on a dual-stack port (mapped).
        """
        for rule in ("127.0.0.1", "::ffff:127.0.0.1/128", "::ffff:0:0/96"):
            keeper = self.keeper(deny=parseNetwork(rule))
            for peer in ("127.0.0.1", "::ffff:127.0.0.1"):
                self.assertEqual(keeper.screen(peer), "denied by --deny", (rule, peer))
            self.assertIsNone(keeper.screen("::1"))

    def test_ipv6ByNetwork(self):
        """
        IPv6 clients count against, and are banned by, their /64 (or the
        configured prefix); another /64 is not affected.
        """
        keeper = self.keeper(maxPerIP=2, banThreshold=1)
        self.assertIsNone(keeper.admit("2001:db8:1:1::1"))
        self.assertIsNone(keeper.admit("2001:db8:1:1::2"))
        self.assertIn("too many connections", keeper.admit("2001:db8:1:1:ffff::9"))
        self.assertIsNone(keeper.admit("2001:db8:1:2::1"))
        self.assertTrue(keeper.strike("2001:db8:1:1::1"))
        self.assertEqual(keeper.screen("2001:db8:1:1::77"), "banned")
        self.assertIsNone(keeper.screen("2001:db8:1:2::1"))
        exact = self.keeper(maxPerIP=1, ipv6Prefix=128)
        self.assertIsNone(exact.admit("2001:db8::1"))
        self.assertIsNone(exact.admit("2001:db8::2"))

    def test_connectRate(self):
        """
        One address may open connections at the connect rate, after a
        burst; others are not affected; the rate refills.
        """
        keeper = self.keeper(connectRate=1, connectBurst=3)
        self.assertEqual([keeper.screen("10.0.0.1") for _ in range(4)],
                         [None, None, None, "connecting too often (at most 1 a second)"])
        self.assertIsNone(keeper.screen("10.0.0.2"))
        self.clock.advance(1)
        self.assertIsNone(keeper.screen("10.0.0.1"))

    def test_nonIPPeers(self):
        """
        Unix-socket peers are local and always pass.
        """
        keeper = self.keeper(allow=parseNetwork("10.0.0.0/8"))
        self.assertIsNone(keeper.screen("/run/chat.sock"))
