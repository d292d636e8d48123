"""
Tests for L{globalchat.doctor}: each check's verdict and fix.
"""

import json
import socket

from twisted.internet.defer import ensureDeferred, succeed
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat import doctor, localchecks
from globalchat.expose.mapping import GatewayTimeout, MappingError
from globalchat.expose.path import Path
from globalchat.expose.verdict import HelperAnswer, judge
from tests.test_expose_mapper import FakeMapper, mapping

CARRIER = Path("45.33.32.2", ("10.77.1.1", "100.64.0.1", "45.33.32.2"), reached=True)

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:3039 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:3039 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   2: 0100007F:3039 0100007F:9999 01 00000000:00000000 00:00000000 00000000     0        0 1 1
   3: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
"""

TCP6 = """\
  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:3039 00000000000000000000000000000000:0000 0A 0
   1: 00000000000000000000000000000000:3039 00000000000000000000000000000000:0000 0A 0
"""


class ListenerTests(SynchronousTestCase):
    """
    Reading listening sockets and judging them.
    """

    def test_parse(self):
        """
        Only LISTEN sockets on the port are found, IPv4 and IPv6.
        """
        self.assertEqual(localchecks.parseListeners(TCP, 12345), ["0.0.0.0", "127.0.0.1"])
        self.assertEqual(localchecks.parseListeners(TCP6, 12345), ["::1", "::"])
        self.assertEqual(localchecks.parseListeners("garbage\n0: zz:yy 0 0A", 12345), [])

    def test_verdicts(self):
        """
        Nothing listening and loopback only are problems with fixes.
        """
        self.assertEqual(localchecks.checkListener(1, []).status, doctor.PROBLEM)
        loop = localchecks.checkListener(1, ["127.0.0.1", "::1"])
        self.assertEqual((loop.status, loop.fix), (doctor.PROBLEM, "listen on all addresses: --port tcp:1"))
        self.assertEqual(localchecks.checkListener(1, ["0.0.0.0"]).status, doctor.OK)


class FirewallTests(SynchronousTestCase):
    """
    Judging firewall rules read-only.
    """

    def test_ufw(self):
        """
        An active ufw without a rule for the port is a problem; with one,
        fine; inactive, not in charge.
        """
        active = "Status: active\n\nTo                         Action      From\n22/tcp                     ALLOW       Anywhere\n"
        check = localchecks.ufwVerdict(active, 12345)
        self.assertEqual((check.status, check.fix), (doctor.PROBLEM, "sudo ufw allow 12345/tcp"))
        allowed = active + "12345/tcp                  ALLOW       Anywhere\n"
        self.assertEqual(localchecks.ufwVerdict(allowed, 12345).status, doctor.OK)
        self.assertIsNone(localchecks.ufwVerdict("Status: inactive\n", 12345))

    def test_nft(self):
        """
        An input chain dropping by default needs an accept rule for the port.
        """
        ruleset = ("table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n"
                   "  tcp dport 22 accept\n }\n}\n")
        self.assertEqual(localchecks.nftVerdict(ruleset, 12345).status, doctor.PROBLEM)
        opened = ruleset.replace("dport 22", "dport { 22, 12345 }")
        self.assertEqual(localchecks.nftVerdict(opened, 12345).status, doctor.OK)
        self.assertIsNone(localchecks.nftVerdict(ruleset.replace("drop", "accept"), 12345))

    def test_iptables(self):
        """
        A dropping INPUT chain needs an ACCEPT rule for the port.
        """
        dropping = "-P INPUT DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n"
        check = localchecks.iptablesVerdict(dropping, 12345)
        self.assertEqual(check.fix, "sudo iptables -I INPUT -p tcp --dport 12345 -j ACCEPT")
        self.assertEqual(localchecks.iptablesVerdict(
            dropping + "-A INPUT -p tcp -m tcp --dport 12345 -j ACCEPT\n", 12345).status, doctor.OK)
        self.assertIsNone(localchecks.iptablesVerdict("-P INPUT ACCEPT\n", 12345))

    def test_windows(self):
        """
        On Windows the netsh command to run is given.
        """
        check = self.successResultOf(ensureDeferred(localchecks.checkFirewall(None, 12345, platform="win32")))
        self.assertEqual(check.status, doctor.SKIPPED)
        self.assertIn("netsh advfirewall firewall add rule", check.fix)
        self.assertIn("localport=12345", check.fix)


class GatewayTests(SynchronousTestCase):
    """
    The test mapping.
    """

    def gatewayCheck(self, *mappers):
        methods = [(m.method, lambda m=m: succeed(m)) for m in mappers]
        return self.successResultOf(ensureDeferred(doctor.checkGateway(None, 12345, methods, 50000)))

    def test_mappedAndRemoved(self):
        """
        A working protocol is named; the test mapping is short and deleted.
        """
        upnp = FakeMapper("UPnP", [mapping("upnp")])
        check, address = self.gatewayCheck(FakeMapper("PCP", [GatewayTimeout("PCP: no answer")]), upnp)
        self.assertEqual(check.status, doctor.OK)
        self.assertIn("UPnP on the gateway mapped a test port", check.detail)
        self.assertEqual(upnp.added, [(50000, 50000, doctor.TEST_LEASE)])
        self.assertEqual(len(upnp.deleted), 1)
        self.assertEqual(address, "8.8.4.4")

    def test_noneWorks(self):
        """
        Every refusal is listed, with the fix.
        """
        check, _ = self.gatewayCheck(FakeMapper("PCP", [MappingError("PCP: refused")]))
        self.assertEqual(check.status, doctor.PROBLEM)
        self.assertIn("PCP: refused", check.detail)
        self.assertIn("forward TCP port 12345", check.fix)

    def test_noGateway(self):
        """
        No gateway at all is a problem.
        """
        check, _ = self.gatewayCheck()
        self.assertIn("no default gateway", check.detail)


class VerdictTests(SynchronousTestCase):
    """
    Public address, IPv6, the probe, and the report.
    """

    def test_external(self):
        """
        Public is fine, any sign of another NAT is a problem naming the
        signal (with the advice), unknown is skipped.
        """
        def check(gateway, stun=None, path=None, answer=None):
            return doctor.checkExternal(judge(gateway, stun, path, answer), path)

        self.assertEqual((check("8.8.8.8").status, check("8.8.8.8").detail),
                         (doctor.OK, "the public address is 8.8.8.8"))
        self.assertEqual(check(None).status, doctor.SKIPPED)
        cgnat = check("100.64.0.9")
        self.assertEqual((cgnat.status, cgnat.detail), (doctor.PROBLEM, (
            "this network is behind carrier-grade NAT (your provider's): the router's external "
            "address 100.64.0.9 is in the carrier-grade NAT range 100.64.0.0/10 (the gateway's "
            "address); a port mapping on your router cannot make this server reachable")))
        self.assertIn("onion", cgnat.fix)
        mismatch = check("8.8.8.8", "9.9.9.9")
        self.assertEqual(mismatch.status, doctor.PROBLEM)
        self.assertIn("(STUN mismatch)", mismatch.detail)
        hop = check("45.33.32.1", "45.33.32.1", CARRIER)
        self.assertEqual(hop.status, doctor.PROBLEM)
        self.assertIn("router 2 on the way out, 100.64.0.1, is in the carrier-grade NAT range "
                      "100.64.0.0/10 (path hop)", hop.detail)

    def test_externalPathNoted(self):
        """
        The public address check says what the path showed, or that the
        path check was skipped; a helper that connected outweighs a
        suspicious hop.
        """
        clean = Path("45.33.32.2", ("10.77.1.1", "45.33.32.2"), reached=True)
        self.assertEqual(doctor.checkExternal(judge("45.33.32.1", None, clean), clean).detail,
                         "the public address is 45.33.32.1; no second NAT on the path towards "
                         "45.33.32.2: 10.77.1.1, 45.33.32.2")
        skipped = Path("1.1.1.1", skipped="it needs Linux (IP_RECVERR) to read the routers' answers")
        self.assertEqual(doctor.checkExternal(judge("45.33.32.1", None, skipped), skipped).detail,
                         "the public address is 45.33.32.1; path check skipped: it needs Linux "
                         "(IP_RECVERR) to read the routers' answers")
        answer = HelperAnswer("h:1", True, "Hello")
        outweighed = doctor.checkExternal(judge("45.33.32.1", None, CARRIER, answer), CARRIER)
        self.assertEqual(outweighed.status, doctor.OK)
        self.assertIn("suggested another NAT, but h:1 connected from outside", outweighed.detail)

    def test_ipv6(self):
        """
        A global IPv6 address is reported with how to listen on it.
        """
        check = doctor.checkIPv6(["2a01:4f8::2"], 12345)
        self.assertIn("[2a01:4f8::2]:12345", check.detail)
        self.assertEqual(doctor.checkIPv6([], 1).status, doctor.SKIPPED)

    def test_probe(self):
        """
        The helper's answer becomes a verdict; a foreign certificate seen
        from outside is a problem.
        """
        ok = doctor.judgeProbe("PROBE OK Hello Good morning !!!! ::: globalchat-probe", "h:1", None)
        self.assertEqual((ok.status, ok.detail[:20]), (doctor.OK, "reachable from h:1: "))
        failed = doctor.judgeProbe("PROBE FAILED 1.2.3.4:5 refused the connection", "h:1", None)
        self.assertEqual(failed.status, doctor.PROBLEM)
        foreign = doctor.judgeProbe("PROBE OK SHA256:AA Hello", "h:1", "SHA256:BB")
        self.assertEqual(foreign.status, doctor.PROBLEM)
        self.assertEqual(doctor.judgeProbe("ERROR invalid name", "h:1", None).status, doctor.SKIPPED)

    def test_render(self):
        """
        Text shows status, name, detail and the fix of problems; JSON has
        every field.
        """
        checks = [doctor.Check("a", doctor.OK, "fine", "unused"),
                  doctor.Check("b", doctor.PROBLEM, "broken", "do this")]
        self.assertEqual(doctor.render(checks, False),
                         "ok       a: fine\nproblem  b: broken\n           fix: do this")
        self.assertEqual(json.loads(doctor.render(checks, True))[1],
                         {"name": "b", "status": "problem", "detail": "broken", "fix": "do this"})


class WebPortTests(TestCase):
    """
    C{--web PORT}: the browser port is checked beside the chat port.
    """

    def test_webPortChecked(self):
        """
        The web port's listener is judged (here, loopback only) under its
        own name.
        """
        from twisted.internet import reactor

        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        options = doctor._parser().parse_args(["--port", "1", "--web", str(port)])
        d = ensureDeferred(doctor.diagnose(reactor, options, methods=[]))

        def checked(checks):
            found = {check.name: check for check in checks}
            web = found[f"local listener (web port {port})"]
            self.assertEqual(web.status, doctor.PROBLEM)
            self.assertIn(f"TCP port {port} listens on 127.0.0.1 only", web.detail)
            self.assertIn(f"host firewall (web port {port})", found)

        return d.addCallback(checked)
