"""
IPv6 clients are counted by network: the real server, in a network
namespace of its own, with clients on distinct real IPv6 addresses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from twisted.trial.unittest import SkipTest, TestCase

from tests.processes import Server

#: Two addresses in one /64, and one in another (documentation prefix,
#: and only ever inside the namespace made here).
SAME_A, SAME_B, OTHER = "2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:2::1"

CLIENTS = """
import json, socket, sys
port, sources = int(sys.argv[1]), sys.argv[2:]
held, seen = [], []
for n, source in enumerate(sources):
    s = socket.socket(socket.AF_INET6)
    s.settimeout(5)
    s.bind((source, 0))
    s.connect(("2001:db8:1:1::1", port))
    s.sendall(b"user%d\\n" % n)
    seen.append(s.makefile("rb").readline().decode().strip())
    held.append(s)
print(json.dumps(seen))
"""


def unavailable() -> str | None:
    """
    Why a namespace cannot be made here, or C{None}.
    """
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "ip is not installed (apt-get install iproute2)"
    return None


class PerNetworkTests(TestCase):
    """
    C{--max-per-ip} and C{--ipv6-prefix} with real addresses.
    """

    def setUp(self):
        reason = unavailable()
        if reason is not None:
            raise SkipTest(reason)
        self.namespace = f"gc6-{os.getpid()}-{time.monotonic_ns() % 100000}"
        self.ip("netns", "add", self.namespace)
        self.addCleanup(self.ip, "netns", "del", self.namespace)
        self.ip("-n", self.namespace, "link", "set", "lo", "up")
        for address in (SAME_A, SAME_B, OTHER):
            self.ip("-n", self.namespace, "addr", "add", f"{address}/128", "dev", "lo", "nodad")

    def ip(self, *arguments: str) -> None:
        subprocess.run(["ip", *arguments], check=True, capture_output=True, timeout=10)

    def firstLines(self, *options: str) -> list[str]:
        """
        Start the server in the namespace, then connect from SAME_A,
        SAME_B and OTHER in turn (keeping each open): the first line each
        is sent.
        """
        inside = ["ip", "netns", "exec", self.namespace]
        server = Server(self, "--port", "tcp6:0:interface=\\:\\:", "--no-history",
                        "--max-per-ip", "1", *options, prefix=inside)
        done = subprocess.run([*inside, sys.executable, "-c", CLIENTS, str(server.ports[0]),
                               SAME_A, SAME_B, OTHER],
                              capture_output=True, timeout=30, check=True)
        return json.loads(done.stdout)

    def test_countedByNetwork(self):
        """
        By default a second address in the same /64 counts as the same
        client; an address in another /64 does not.
        """
        self.assertEqual(self.firstLines(), [
            "Hello Good morning !!!! ::: user0",
            "ERROR too many connections from your address (max 1)",
            "Hello Good morning !!!! ::: user2",
        ])

    def test_countedByAddress(self):
        """
        With --ipv6-prefix 128 every address counts on its own.
        """
        self.assertEqual(self.firstLines("--ipv6-prefix", "128"), [
            "Hello Good morning !!!! ::: user0",
            "Hello Good morning !!!! ::: user1",
            "Hello Good morning !!!! ::: user2",
        ])
