"""
End to end through a real router: C{twistd globalchat --expose} in a LAN
namespace behind Debian's C{miniupnpd}, reached from a WAN namespace; and
C{globalchat-doctor} in the same network.  Behind one NAT a helper in the
WAN confirms the server reachable; behind a carrier-grade NAT nothing
claims it is.  See L{tests.netlab}.
"""

import json
import re
import subprocess

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests import netlab
from tests.processes import Server, client, command, environment

GREETING = "Hello Good morning !!!! ::: John"
REACHABLE = re.compile(rb"reachable at (\S+):(\d+) \(confirmed by 45\.33\.32\.2:12346\) "
                       rb"\xe2\x80\x94 globalchat-client (.+)")
CLAIM = re.compile(rb"reachable at")
REMOVED = re.compile(rb"removed the \S+ mapping of external port")
#: Where the path check aims in the lab: wan, never anything outside.
PATH = ("--path-target", netlab.WAN)
STUN = ("--stun", f"{netlab.WAN}:{netlab.STUN_PORT}")
HELPER = ("--verify-via", f"{netlab.WAN}:12346")
CARRIER_HOP = ("router 2 on the way out, 100.64.0.1, is in the carrier-grade NAT range "
               "100.64.0.0/10 (path hop)")


class LabTestCase(SynchronousTestCase):
    """
    A fresh lab for each test, removed even when the test fails.

    @cvar topology: the keyword arguments of L{netlab.NetLab}.
    """

    topology: dict = {}

    def setUp(self):
        reason = netlab.unavailable()
        if reason:
            raise SkipTest(reason)
        self.lab = netlab.NetLab(**self.topology)
        self.lab.setUp()
        self.addCleanup(self.lab.tearDown)

    def wanClient(self, *args, input=b"John\n"):
        return client(*args, "--timeout", "3", input=input, prefix=self.lab.exec("wan"))

    def doctor(self, role, *args):
        return subprocess.run(
            [*self.lab.exec(role), *command("globalchat-doctor", "globalchat.doctor"), *PATH,
             *args], capture_output=True, env=environment(), timeout=60,
        )

    def helper(self):
        """
        A probe helper in wan, on the port C{--verify-via} names.
        """
        return Server(self, "--probe-helper", "--port", "tcp:12346", prefix=self.lab.exec("wan"))

    def exposed(self, *args):
        """
        A server in lan with C{--expose} and C{args}.
        """
        return Server(self, "--expose", *PATH, *args, prefix=self.lab.exec("lan"), timeout=30)


class ExposeTests(LabTestCase):
    """
    C{--expose} makes a LAN server reachable from the WAN, and stops doing
    so when the server stops.
    """

    def test_reachableThenGone(self):
        """
        The server maps its TLS port on the router and, once the helper in
        the WAN has connected back, says it is reachable, naming the
        helper; a WAN client using the arguments of that line gets the
        greeting; after a clean stop the mapping is gone and the same
        connection fails.
        """
        self.helper()
        server = self.exposed("--port", "ssl:12345", *STUN, *HELPER)
        [friend] = server.waitFor(REACHABLE, timeout=30)
        external = friend.group(2).decode()
        self.assertEqual(friend.group(1).decode(), netlab.PUBLIC)
        arguments = friend.group(3).decode().split()
        self.assertEqual(arguments[:2], [netlab.PUBLIC, external])
        self.assertEqual(arguments[2:4], ["--tls", "--fingerprint"])
        result = self.wanClient(*arguments)
        self.assertEqual((result.returncode, result.stdout.decode()), (0, GREETING + "\n"),
                         result.stderr)
        server.stop()
        self.assertTrue(REMOVED.search(server.output), server.output.decode())
        after = self.wanClient(*arguments)
        self.assertEqual(after.returncode, 1)
        self.assertEqual(after.stdout, b"")


class DoctorTests(LabTestCase):
    """
    C{globalchat-doctor} behind the router, and on a host with no gateway.
    """

    def test_viaHelper(self):
        """
        With a server exposed, the doctor finds the gateway and a probe
        helper in the WAN reports the server reachable; once the server has
        stopped, another helper reports it unreachable, and the doctor
        exits non-zero.
        """
        helper = Server(self, "--probe-helper", "--port", "tcp:12345", prefix=self.lab.exec("wan"))
        # A second helper: each allows one probe per address per minute.
        Server(self, "--probe-helper", "--port", "tcp:12346", prefix=self.lab.exec("wan"))
        server = self.exposed("--port", "tcp:12345")
        server.waitFor(re.compile(rb"mapped on the router at 45\.33\.32\.1:12345"), timeout=30)
        good = self.doctor("lan", "--port", "12345", "--via", f"{netlab.WAN}:12345", *STUN)
        report = good.stdout.decode()
        self.assertIn("ok       local listener", report, good.stderr.decode())
        self.assertIn("ok       public address: the public address is 45.33.32.1; no second NAT "
                      "on the path towards 45.33.32.2: 10.77.1.1, 45.33.32.2", report)
        self.assertRegex(report, r"ok       gateway: (PCP|NAT-PMP|UPnP) on the gateway mapped")
        self.assertIn(f"ok       reachable from outside: reachable from {netlab.WAN}:12345", report)
        self.assertIn(GREETING.replace("John", "globalchat-probe"), report)
        helper.waitFor(re.compile(rb"probing 45\.33\.32\.1 port 12345"))
        server.stop()
        bad = self.doctor("lan", "--port", "12345", "--via", f"{netlab.WAN}:12346")
        self.assertEqual(bad.returncode, 1, bad.stdout)
        self.assertIn("problem  reachable from outside", bad.stdout.decode())
        self.assertIn("problem  local listener: nothing listens on TCP port 12345", bad.stdout.decode())

    def test_noGateway(self):
        """
        On a host without a default route (the WAN namespace) the doctor
        names the missing gateway and listener and exits 1; --json says
        the same for scripts.
        """
        result = self.doctor("wan", "--port", "23456", "--json")
        self.assertEqual(result.returncode, 1)
        checks = {c["name"]: c for c in json.loads(result.stdout)}
        self.assertEqual(checks["gateway"]["status"], "problem")
        self.assertIn("no default gateway", checks["gateway"]["detail"])
        self.assertEqual(checks["local listener"]["status"], "problem")


class CarrierNatTests(LabTestCase):
    """
    The home router behind the provider's NAT: its WAN address is
    100.64.0.2, and with STUN it learns and reports the carrier's public
    address, so only the path and a helper tell the truth.
    """

    topology = {"carrier": True}

    def test_neverClaimsReachable(self):
        """
        The router grants the mapping, but the helper cannot connect: the
        log says so, names the carrier-grade NAT hop and never says
        "reachable"; the doctor calls the public address a problem,
        naming the hop, and exits 1.
        """
        self.helper()
        server = self.exposed("--port", "tcp:12345", *STUN, *HELPER)
        [line] = server.waitFor(re.compile(
            rb"mapped on the router at 45\.33\.32\.1:12345, but 45\.33\.32\.2:12346 could "
            rb"not connect: likely another NAT upstream \((.+?)\); "), timeout=30)
        self.assertEqual(line.group(1).decode(), CARRIER_HOP)
        result = self.doctor("lan", "--port", "12345", *STUN)
        report = result.stdout.decode()
        self.assertEqual(result.returncode, 1, report)
        self.assertIn("problem  public address: this network is behind carrier-grade NAT (your "
                      f"provider's): {CARRIER_HOP}; a port mapping on your router cannot make "
                      "this server reachable", report)
        server.stop()
        self.assertIsNone(CLAIM.search(server.output), server.output.decode())


class RouterWithoutStunTests(LabTestCase):
    """
    The same carrier-grade NAT, the router not told to use STUN: Debian's
    miniupnpd then refuses every mapping and keeps its 100.64.0.2 address
    to itself.
    """

    topology = {"carrier": True, "routerStun": False}

    def test_carrierNatSaidPlainly(self):
        """
        The server is not exposed, and the same line says why no setting
        at home can help: the path shows the carrier's NAT.  The doctor
        says the same and exits 1.
        """
        server = self.exposed("--port", "tcp:12345")
        [line] = server.waitFor(re.compile(rb"not exposed: port 12345: .+"), timeout=30)
        self.assertIn(f"Besides, this network is behind carrier-grade NAT (your provider's): "
                      f"{CARRIER_HOP}; a mapping on this router could not make this server "
                      "reachable anyway. Instead", line.group(0).decode())
        result = self.doctor("lan", "--port", "12345")
        report = result.stdout.decode()
        self.assertEqual(result.returncode, 1, report)
        self.assertIn("problem  gateway: no port mapping", report)
        self.assertIn(f"problem  public address: this network is behind carrier-grade NAT (your "
                      f"provider's): {CARRIER_HOP}", report)
        self.assertIsNone(CLAIM.search(server.output), server.output.decode())
