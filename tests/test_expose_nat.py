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


class DiagnoseTests(SynchronousTestCase):
    """
    Explaining why a mapping cannot help.
    """

    def test_publicIsFine(self):
        """
        A public external address that STUN agrees with needs no warning.
        """
        self.assertIsNone(nat.diagnose("8.8.8.8", "8.8.8.8"))
        self.assertIsNone(nat.diagnose("8.8.8.8"))

    def test_cgnat(self):
        """
        A shared-space address is carrier-grade NAT, with alternatives.
        """
        message = nat.diagnose("100.72.1.2")
        self.assertIn("carrier-grade NAT", message)
        self.assertIn("IPv6", message)
        self.assertIn("onion", message)

    def test_doubleNAT(self):
        """
        A private external address means a second router.
        """
        self.assertIn("another router", nat.diagnose("192.168.0.10"))

    def test_stunDisagrees(self):
        """
        A STUN view different from the gateway's is a NAT outside it.
        """
        message = nat.diagnose("8.8.8.8", "1.1.1.1")
        self.assertIn("second NAT", message)
        self.assertIn("1.1.1.1", message)
