"""
Tests for L{globalchat.expose.path}: reading the routers' ICMP answers
and telling a second NAT from them.
"""

import socket
import struct
import sys

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from globalchat.expose.path import IP_RECVERR, Path, parseError, secondNat, tracePath


def extendedError(origin, icmpType, offender):
    """
    The C{IP_RECVERR} control message Linux gives for an ICMP answer.
    """
    return (struct.pack("=IBBBBII", 113, origin, icmpType, 0, 0, 0, 0)
            + struct.pack("=H2x4s8x", socket.AF_INET, socket.inet_aton(offender)))


class ParseTests(SynchronousTestCase):
    """
    L{parseError} reads the offender and whether the path ends there.
    """

    def test_timeExceeded(self):
        """
        "Time exceeded" names a router on the way; the path goes on.
        """
        self.assertEqual(parseError(socket.IPPROTO_IP, IP_RECVERR, extendedError(2, 11, "10.77.1.1")),
                         ("10.77.1.1", False))

    def test_unreachable(self):
        """
        "Destination unreachable" ends the path.
        """
        self.assertEqual(parseError(socket.IPPROTO_IP, IP_RECVERR, extendedError(2, 3, "45.33.32.2")),
                         ("45.33.32.2", True))

    def test_notAnAnswer(self):
        """
        Local errors, other control messages and short data are not
        answers.
        """
        self.assertIsNone(parseError(socket.IPPROTO_IP, IP_RECVERR, extendedError(1, 0, "0.0.0.0")))
        self.assertIsNone(parseError(socket.IPPROTO_IP, 8, extendedError(2, 11, "10.0.0.1")))
        self.assertIsNone(parseError(socket.IPPROTO_IP, IP_RECVERR, b"\0" * 10))


class SecondNatTests(SynchronousTestCase):
    """
    L{secondNat} finds a private or shared router after the home gateway.
    """

    def test_verdicts(self):
        """
        A shared or private hop after the gateway is a second NAT; none is
        when the gateway itself is public, past the first public router,
        or when only the gateway answered.
        """
        cases = [
            (("10.77.1.1", "100.64.0.1", "45.33.32.2"), (2, "100.64.0.1")),
            (("192.168.1.1", "10.0.0.1", None), (2, "10.0.0.1")),
            (("192.168.1.1", None, "172.16.5.1"), (3, "172.16.5.1")),
            ((None, "192.168.1.1", "45.33.32.2"), None),
            (("10.77.1.1", "45.33.32.2"), None),
            (("10.77.1.1", "45.33.32.9", "10.1.1.1"), None),
            (("45.33.32.1", "10.1.1.1"), None),
            (("10.77.1.1",), None),
            ((), None),
        ]
        for hops, expected in cases:
            self.assertEqual((hops, secondNat(Path("45.33.32.2", hops))), (hops, expected))

    def test_describe(self):
        """
        The hops read as one phrase, silent ones as stars.
        """
        self.assertEqual(Path("45.33.32.2", ("10.77.1.1", None, "45.33.32.2")).describe(),
                         "path towards 45.33.32.2: 10.77.1.1, *, 45.33.32.2")


class TraceTests(TestCase):
    """
    L{tracePath} with real sockets, towards this machine only.
    """

    def test_otherPlatforms(self):
        """
        Where ICMP errors cannot be read without privilege, the check says
        it was skipped, and sends nothing.
        """
        path = self.successResultOf(ensureDeferred(tracePath(reactor, "127.0.0.1", platform="darwin")))
        self.assertEqual(path.skipped, "it needs Linux (IP_RECVERR) to read the routers' answers")

    async def test_loopback(self):
        """
        Towards 127.0.0.1 the first datagram arrives at once: the path is
        one hop, the destination, which answers "port unreachable".
        """
        if sys.platform != "linux":
            raise SkipTest("IP_RECVERR is Linux's")
        path = await tracePath(reactor, "127.0.0.1", timeout=2.0)
        self.assertEqual((path.hops, path.reached, path.skipped), (("127.0.0.1",), True, None))

    async def test_noRoute(self):
        """
        When nothing can be sent (here: broadcast, not allowed on an
        ordinary socket) the check is skipped, saying why.
        """
        path = await tracePath(reactor, "255.255.255.255", platform="linux")
        self.assertEqual(path.skipped, "cannot send towards 255.255.255.255 (Permission denied)")
