"""
Tests for L{globalchat.certs}, the private CA tool.
"""

import stat
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from twisted.trial.unittest import SynchronousTestCase

from globalchat import certs


class CertToolTests(SynchronousTestCase):
    """
    C{globalchat-cert ca|server|client}.
    """

    def setUp(self):
        self.dir = Path(self.mktemp())
        certs.main(["ca", str(self.dir)])

    def load(self, name):
        return x509.load_pem_x509_certificate((self.dir / f"{name}.crt").read_bytes())

    def test_authority(self):
        """
        The CA can sign, and its key is private.
        """
        ca = self.load("ca")
        self.assertTrue(ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertEqual(stat.S_IMODE((self.dir / "ca.key").stat().st_mode), 0o600)

    def test_serverAndClient(self):
        """
        Server certificates name their hosts and IPs; client certificates
        carry the user's name; both are signed by the CA.
        """
        certs.main(["server", str(self.dir), "chat.example.org", "203.0.113.7"])
        certs.main(["client", str(self.dir), "alice"])
        ca, server, alice = self.load("ca"), self.load("server"), self.load("alice")
        sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(sans.get_values_for_type(x509.DNSName), ["chat.example.org"])
        self.assertEqual([str(a) for a in sans.get_values_for_type(x509.IPAddress)], ["203.0.113.7"])
        self.assertEqual(alice.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value, "alice")
        usage = alice.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        self.assertEqual(list(usage), [ExtendedKeyUsageOID.CLIENT_AUTH])
        for cert in (server, alice):
            self.assertEqual(cert.issuer, ca.subject)
            cert.verify_directly_issued_by(ca)
        self.assertEqual(stat.S_IMODE((self.dir / "alice.key").stat().st_mode), 0o600)

    def test_refusals(self):
        """
        Nothing is overwritten, a client name must be a chat name, and a
        missing CA is explained.
        """
        e = self.assertRaises(SystemExit, certs.main, ["ca", str(self.dir)])
        self.assertIn("exists", str(e))
        e = self.assertRaises(SystemExit, certs.main, ["client", str(self.dir), "bad name"])
        self.assertIn("invalid name", str(e))
        e = self.assertRaises(SystemExit, certs.main, ["client", self.mktemp(), "bob"])
        self.assertIn("no usable CA", str(e))
