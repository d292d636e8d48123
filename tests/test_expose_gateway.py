"""
Tests for L{globalchat.expose.gateway}.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.expose.gateway import (
    localAddressFor,
    parseGlobalIPv6,
    parseIPv4Routes,
    parseIPv6Routes,
)

ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
"""

IPV6_ROUTE = (
    "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
    "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
    "fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n"
)

IF_INET6 = """\
20010db8000000000000000000000002 04 40 00 80     eth0
2a0104f8000000000000000000000002 04 40 00 80     eth0
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
00000000000000000000000000000001 01 80 10 80       lo
"""


class RoutesTests(SynchronousTestCase):
    """
    Reading the default gateway out of the kernel's routing tables.
    """

    def test_ipv4DefaultRoute(self):
        """
        The default route's gateway is decoded from host byte order.
        """
        self.assertEqual(parseIPv4Routes(ROUTE), "192.168.1.1")

    def test_ipv4NoDefaultRoute(self):
        """
        A table with only on-link routes has no gateway.
        """
        self.assertIsNone(parseIPv4Routes(ROUTE.splitlines()[0] + "\n" + ROUTE.splitlines()[1]))

    def test_ipv4Garbage(self):
        """
        Unparsable lines are skipped, not fatal.
        """
        self.assertIsNone(parseIPv4Routes("header\neth0 zz yy xx 0 0 0 ww\n"))

    def test_ipv6DefaultRoute(self):
        """
        The IPv6 default route's next hop is found, with its interface when
        it is link-local.
        """
        self.assertEqual(parseIPv6Routes(IPV6_ROUTE), "fe80::1%eth0")

    def test_globalIPv6(self):
        """
        Only global unicast addresses are listed: documentation,
        link-local and loopback addresses are not reachable from abroad.
        """
        self.assertEqual(parseGlobalIPv6(IF_INET6), ["2a01:4f8::2"])

    def test_localAddressForLoopback(self):
        """
        The local address used to reach 127.0.0.1 is a loopback address.
        """
        self.assertTrue(localAddressFor("127.0.0.1").startswith("127."))
