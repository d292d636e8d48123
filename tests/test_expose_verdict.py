"""
Tests for L{globalchat.expose.verdict}: the decision table (gateway
address x STUN address x path x helper answer -> status and words).
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.expose import verdict
from globalchat.expose.path import Path
from globalchat.expose.verdict import HelperAnswer, judge, logLine

ONE_NAT = Path("45.33.32.2", ("10.77.1.1", "45.33.32.2"), reached=True)
CARRIER = Path("45.33.32.2", ("10.77.1.1", "100.64.0.1", "45.33.32.2"), reached=True)
DOUBLE = Path("45.33.32.2", ("192.168.1.1", "10.0.0.1", None), reached=False)
CONNECTED = HelperAnswer("45.33.32.2:12346", True, "Hello")
FAILED = HelperAnswer("45.33.32.2:12346", False, "45.33.32.1:12345 refused the connection")


class DecisionTableTests(SynchronousTestCase):
    """
    Every combination that matters, with its status, public address and
    the sources of the signals.
    """

    def test_table(self):
        """
        Only a helper's connection makes "reachable"; a helper's failure is
        "unreachable" whatever else is known; otherwise any signal is
        "behind another NAT", and a public address with no signal is only
        "mapped".
        """
        rows = [
            # gateway, STUN, path, helper -> status, address, signal sources
            (("45.33.32.1", None, None, None), (verdict.MAPPED, "45.33.32.1", [])),
            (("45.33.32.1", "45.33.32.1", ONE_NAT, None), (verdict.MAPPED, "45.33.32.1", [])),
            ((None, "45.33.32.1", None, None), (verdict.MAPPED, "45.33.32.1", [])),
            ((None, None, None, None), (verdict.UNKNOWN, None, [])),
            (("100.64.0.2", None, None, None),
             (verdict.BEHIND_NAT, None, [verdict.GATEWAY_ADDRESS])),
            (("10.0.0.2", None, None, None),
             (verdict.BEHIND_NAT, None, [verdict.GATEWAY_ADDRESS])),
            (("0.0.0.0", None, None, None),
             (verdict.BEHIND_NAT, None, [verdict.GATEWAY_ADDRESS])),
            (("100.64.0.2", "45.33.32.1", None, None),
             (verdict.BEHIND_NAT, "45.33.32.1", [verdict.GATEWAY_ADDRESS, verdict.STUN_MISMATCH])),
            (("8.8.8.8", "45.33.32.1", None, None),
             (verdict.BEHIND_NAT, "45.33.32.1", [verdict.STUN_MISMATCH])),
            (("45.33.32.1", "45.33.32.1", CARRIER, None),
             (verdict.BEHIND_NAT, "45.33.32.1", [verdict.PATH_HOP])),
            (("45.33.32.1", None, DOUBLE, None),
             (verdict.BEHIND_NAT, "45.33.32.1", [verdict.PATH_HOP])),
            (("45.33.32.1", "45.33.32.1", CARRIER, CONNECTED),
             (verdict.REACHABLE, "45.33.32.1", [verdict.PATH_HOP])),
            (("45.33.32.1", "45.33.32.1", ONE_NAT, CONNECTED), (verdict.REACHABLE, "45.33.32.1", [])),
            (("45.33.32.1", "45.33.32.1", ONE_NAT, FAILED), (verdict.UNREACHABLE, "45.33.32.1", [])),
            (("100.64.0.2", None, CARRIER, FAILED),
             (verdict.UNREACHABLE, None, [verdict.GATEWAY_ADDRESS, verdict.PATH_HOP])),
        ]
        for evidence, expected in rows:
            found = judge(*evidence)
            self.assertEqual(
                (evidence, (found.status, found.address, [s.source for s in found.signals])),
                (evidence, expected))

    def test_carrierGradeNamed(self):
        """
        A shared address anywhere says carrier-grade NAT; private ones say
        double NAT.
        """
        self.assertEqual(verdict.behind(judge("100.64.0.2", None, None).signals),
                         "this network is behind carrier-grade NAT (your provider's)")
        self.assertEqual(verdict.behind(judge("45.33.32.1", None, DOUBLE).signals),
                         "this network is behind another NAT (double NAT)")
        self.assertEqual(str(judge("45.33.32.1", None, DOUBLE).signals[0]),
                         "router 2 on the way out, 10.0.0.1, is private (path hop)")


class WordsTests(SynchronousTestCase):
    """
    What C{--expose} logs for each verdict.
    """

    def test_mapped(self):
        """
        A mapping nobody confirmed is "mapped on the router", with the
        command for friends; IPv6 addresses are bracketed before a port.
        """
        self.assertEqual(
            logLine(judge("2a01:4f8::2", None, None), "2a01:4f8::2", 12345, None),
            "mapped on the router at [2a01:4f8::2]:12345 \N{EM DASH} friends connect with "
            "globalchat-client 2a01:4f8::2 12345; not confirmed from outside yet")

    def test_reachable(self):
        """
        Confirmed, it is "reachable", naming the helper.
        """
        self.assertEqual(
            logLine(judge("45.33.32.1", None, ONE_NAT, CONNECTED), "45.33.32.1", 12345, "SHA256:AB"),
            "reachable at 45.33.32.1:12345 (confirmed by 45.33.32.2:12346) \N{EM DASH} "
            "globalchat-client 45.33.32.1 12345 --tls --fingerprint SHA256:AB")

    def test_reachableAddressUnknown(self):
        """
        A helper connected but no public address is known: say so rather
        than hand out a private one.
        """
        line = logLine(judge("10.0.0.2", None, None, CONNECTED), "10.0.0.2", 12345, None)
        self.assertEqual(line, "reachable on port 12345 (confirmed by 45.33.32.2:12346), but the "
                               "public address is unknown: give a STUN server with --stun "
                               "HOST:PORT to learn it")

    def test_unreachable(self):
        """
        A failed helper: mapped, but it could not connect, and the fix.
        """
        line = logLine(judge("45.33.32.1", None, ONE_NAT, FAILED), "45.33.32.1", 12345, None)
        self.assertTrue(line.startswith(
            "mapped on the router at 45.33.32.1:12345, but 45.33.32.2:12346 could not connect: "
            "likely another NAT upstream; 45.33.32.2:12346 said: 45.33.32.1:12345 refused the "
            "connection. If no firewall blocks the port (globalchat-doctor checks), use IPv6"),
            line)

    def test_behindNatWithIPv6(self):
        """
        Behind another NAT, the advice starts with this machine's IPv6
        address when it has one.
        """
        line = logLine(judge("100.64.0.2", None, None), "100.64.0.2", 12345, None, ["2a01::2"])
        self.assertIn("cannot make this server reachable; instead this machine has the global "
                      "IPv6 address 2a01::2", line)
        self.assertNotIn("globalchat-client", line)

    def test_unknown(self):
        """
        Without any public address, the line says nobody told it.
        """
        self.assertIn("neither the router nor a STUN server (--stun HOST:PORT) told",
                      logLine(judge(None, None, None), None, 12345, None))
