"""
Tests for L{globalchat.tls}: self-made certificates, fingerprints and
endpoint descriptions.
"""

import hashlib
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls


class CertificateTests(SynchronousTestCase):
    """
    L{tls.ensureCertificate} makes a usable certificate once and reuses it.
    """

    def setUp(self):
        self.dir = Path(self.mktemp()) / "data"

    def test_createdOnceThenReused(self):
        """
        The first call makes a certificate and key, the second returns
        the same files untouched.
        """
        cert, key, created = tls.ensureCertificate(self.dir)
        self.assertTrue(created)
        before = cert.read_bytes()
        again = tls.ensureCertificate(self.dir)
        self.assertEqual(again, (cert, key, False))
        self.assertEqual(cert.read_bytes(), before)

    def test_keyIsPrivate(self):
        """
        The key is readable by its owner only, and so is the directory.
        """
        _, key, _ = tls.ensureCertificate(self.dir)
        self.assertEqual(stat.S_IMODE(key.stat().st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(self.dir.stat().st_mode), 0o700)

    def test_subjectAlternativeNames(self):
        """
        The certificate names this host and localhost.
        """
        cert, _, _ = tls.ensureCertificate(self.dir)
        parsed = x509.load_pem_x509_certificate(cert.read_bytes())
        names = parsed.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value.get_values_for_type(x509.DNSName)
        self.assertEqual(names, tls.defaultHostnames())
        self.assertIn("localhost", names)

    def test_halfAPairRefused(self):
        """
        A key without its certificate is not silently replaced.
        """
        self.dir.mkdir(parents=True)
        (self.dir / tls.KEY_FILE).write_text("old key")
        e = self.assertRaises(OSError, tls.ensureCertificate, self.dir)
        self.assertIn("exists without its pair", str(e))
        self.assertEqual((self.dir / tls.KEY_FILE).read_text(), "old key")


class FingerprintTests(SynchronousTestCase):
    """
    Fingerprints are shown and read the way users copy them.
    """

    def test_format(self):
        """
        C{SHA256:} then 32 colon-separated upper-case hex bytes.
        """
        self.assertEqual(
            tls.formatFingerprint(bytes(range(32))),
            "SHA256:" + ":".join(f"{i:02X}" for i in range(32)),
        )

    def test_parseVariants(self):
        """
        The prefix, colons, spaces and case do not matter.
        """
        digest = bytes(range(32))
        shown = tls.formatFingerprint(digest)
        for text in (shown, shown.lower(), shown[7:], shown[7:].replace(":", ""),
                     " " + shown[7:].replace(":", " ") + " "):
            self.assertEqual(tls.parseFingerprint(text), digest)

    def test_parseRejects(self):
        """
        Too short, too long or non-hex input is refused with a message.
        """
        for text in ("SHA256:AB", "zz" * 32, "AB" * 33, ""):
            e = self.assertRaises(ValueError, tls.parseFingerprint, text)
            self.assertIn("64 hex digits", str(e))

    def test_fingerprintMatchesCertificate(self):
        """
        L{tls.fingerprint} is the SHA-256 of the certificate's DER form.
        """
        cert, _, _ = tls.ensureCertificate(Path(self.mktemp()))
        der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
        self.assertEqual(
            tls.fingerprint(cert.read_bytes()),
            tls.formatFingerprint(hashlib.sha256(der).digest()),
        )


class EndpointTests(SynchronousTestCase):
    """
    Filling in the certificate of C{ssl:} endpoint descriptions.
    """

    def test_needsCertificate(self):
        """
        Only C{ssl:} endpoints without a key or certificate need one made.
        """
        self.assertTrue(tls.needsCertificate("ssl:12345"))
        self.assertTrue(tls.needsCertificate("ssl:port=12345:interface=\\:\\:"))
        self.assertFalse(tls.needsCertificate("ssl:12345:privateKey=k.pem"))
        self.assertFalse(tls.needsCertificate("ssl:12345:certKey=c.pem"))
        self.assertFalse(tls.needsCertificate("tcp:12345"))

    def test_withCertificateEscapesColons(self):
        """
        Paths are escaped so that a colon in them survives the parser, and
        L{tls.certificateFor} reads the path back.
        """
        described = tls.withCertificate("ssl:1", Path("/a:b/c.crt"), Path("/a:b/k.key"))
        self.assertEqual(
            described, "ssl:1:privateKey=/a\\:b/k.key:certKey=/a\\:b/c.crt"
        )
        self.assertEqual(tls.certificateFor(described), Path("/a:b/c.crt"))

    def test_certificateForDefaults(self):
        """
        Like Twisted, a lone C{privateKey=} file holds the certificate too;
        non-TLS endpoints have none.
        """
        self.assertEqual(tls.certificateFor("ssl:1:privateKey=both.pem"), Path("both.pem"))
        self.assertIsNone(tls.certificateFor("tcp:1"))
