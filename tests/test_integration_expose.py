"""
End to end through a real router: C{twistd globalchat --expose} in a LAN
namespace behind Debian's C{miniupnpd}, reached from a WAN namespace; and
C{globalchat-doctor} in the same network.  See L{tests.netlab}.
"""

import json
import re
import subprocess

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests import netlab
from tests.processes import Server, client, command, environment

GREETING = "Hello Good morning !!!! ::: John"
MAPPED = re.compile(rb"mapped external port (\d+) to port")
REACHABLE = re.compile(rb"reachable at (\S+):(\d+) \xe2\x80\x94 globalchat-client (.+)")
REMOVED = re.compile(rb"removed the \S+ mapping of external port")


class LabTestCase(SynchronousTestCase):
    """
    A fresh lab for each test, removed even when the test fails.
    """

    def setUp(self):
        reason = netlab.unavailable()
        if reason:
            raise SkipTest(reason)
        self.lab = netlab.NetLab()
        self.lab.setUp()
        self.addCleanup(self.lab.tearDown)

    def wanClient(self, *args, input=b"John\n"):
        return client(*args, "--timeout", "3", input=input, prefix=self.lab.exec("wan"))

    def doctor(self, role, *args):
        return subprocess.run(
            [*self.lab.exec(role), *command("globalchat-doctor", "globalchat.doctor"), *args],
            capture_output=True, env=environment(), timeout=60,
        )


class ExposeTests(LabTestCase):
    """
    C{--expose} makes a LAN server reachable from the WAN, and stops doing
    so when the server stops.
    """

    def test_reachableThenGone(self):
        """
        The server maps its TLS port on the router; a WAN client using the
        arguments of the logged friend line (with the router's real WAN
        address) gets the greeting; after a clean stop the mapping is gone
        and the same connection fails.
        """
        server = Server(self, "--expose", "--port", "ssl:12345",
                        prefix=self.lab.exec("lan"), timeout=30)
        [friend] = server.waitFor(REACHABLE, timeout=30)
        external = friend.group(2).decode()
        self.assertEqual(friend.group(1).decode(), netlab.PUBLIC_ADDRESS)
        arguments = friend.group(3).decode().split()
        self.assertEqual(arguments[:2], [netlab.PUBLIC_ADDRESS, external])
        self.assertEqual(arguments[2:4], ["--tls", "--fingerprint"])
        # The public address is what the lab's STUN responder made up; the
        # router's real external address is the one that routes.
        result = self.wanClient(netlab.ROUTER_WAN, *arguments[1:])
        self.assertEqual((result.returncode, result.stdout.decode()), (0, GREETING + "\n"),
                         result.stderr)
        server.stop()
        self.assertTrue(REMOVED.search(server.output), server.output.decode())
        after = self.wanClient(netlab.ROUTER_WAN, *arguments[1:])
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
        server = Server(self, "--expose", "--port", "tcp:12345", prefix=self.lab.exec("lan"),
                        timeout=30)
        server.waitFor(REACHABLE, timeout=30)
        good = self.doctor("lan", "--port", "12345", "--via", f"{netlab.WAN}:12345")
        report = good.stdout.decode()
        self.assertIn("ok       local listener", report)
        self.assertRegex(report, r"ok       gateway: (PCP|NAT-PMP|UPnP) on the gateway mapped")
        self.assertIn(f"ok       reachable from outside: reachable from {netlab.WAN}:12345", report)
        self.assertIn(GREETING.replace("John", "globalchat-probe"), report)
        helper.waitFor(re.compile(rb"probing 198\.18\.77\.1 port 12345"))
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
