"""
Tests for L{globalchat.client.knownhosts}.
"""

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls
from globalchat.client import knownhosts
from globalchat.client.knownhosts import KnownHosts


class KnownHostsTests(SynchronousTestCase):
    """
    Recording and finding certificates.
    """

    def test_defaultPathHonoursXDG(self):
        """
        The file lives under XDG_CONFIG_HOME, else ~/.config.
        """
        self.patch(knownhosts.os, "environ", {"XDG_CONFIG_HOME": "/cfg"})
        self.assertEqual(knownhosts.defaultPath(), Path("/cfg/globalchat/known_hosts"))
        self.patch(knownhosts.os, "environ", {})
        self.assertEqual(knownhosts.defaultPath(),
                         Path.home() / ".config" / "globalchat" / "known_hosts")

    def test_addAndLookup(self):
        """
        A recorded certificate is found again for the same host (any case)
        and port only, with its line number; IPv6 hosts are bracketed.
        """
        hosts = KnownHosts(Path(self.mktemp()) / "dir" / "known_hosts")
        self.assertIsNone(hosts.lookup("Chat.Example.org", 1))
        hosts.add("chat.example.org", 1, b"\x01" * 32)
        hosts.add("2001:db8::1", 1, b"\x02" * 32)
        found = hosts.lookup("CHAT.example.org", 1)
        self.assertEqual((found.digest, found.line), (b"\x01" * 32, 1))
        self.assertIsNone(hosts.lookup("chat.example.org", 2))
        self.assertEqual(hosts.lookup("2001:db8::1", 1).line, 2)
        self.assertIn("[2001:db8::1]:1 " + tls.formatFingerprint(b"\x02" * 32),
                      hosts.path.read_text())

    def test_garbageSkipped(self):
        """
        Lines that cannot be read are skipped.
        """
        path = Path(self.mktemp())
        path.write_text("junk\nh:1 SHA256:zz\nh:1 " + tls.formatFingerprint(b"\x03" * 32) + "\n")
        self.assertEqual(KnownHosts(path).lookup("h", 1).line, 3)
