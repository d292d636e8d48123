"""
Tests for L{globalchat.client.cli}: the command line and the messages a
user sees when connecting fails.
"""

from pathlib import Path

from OpenSSL import SSL
from twisted.internet import error
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls
from globalchat.client import cli


class ArgumentsTests(SynchronousTestCase):
    """
    L{cli.parseArguments}.
    """

    def test_hostAndDefaultPort(self):
        """
        A host alone means port 12345 without TLS.
        """
        options = cli.parseArguments(["chat.example.org"])
        self.assertEqual(
            (options["host"], options["port"], options["tls"]),
            ("chat.example.org", 12345, False),
        )

    def test_optionsAfterArguments(self):
        """
        Options may follow HOST PORT, as in the line a server logs for a
        friend; a fingerprint implies TLS.
        """
        digest = bytes(range(32))
        options = cli.parseArguments(
            ["203.0.113.7", "12345", "--tls", "--fingerprint", tls.formatFingerprint(digest)]
        )
        self.assertEqual(options["fingerprint"], digest)
        self.assertTrue(options["tls"])

    def test_caImpliesTLS(self):
        """
        C{--ca} loads the CA certificate and implies TLS.
        """
        cert, _, _ = tls.ensureCertificate(Path(self.mktemp()))
        options = cli.parseArguments(["h", "--ca", str(cert)])
        self.assertTrue(options["tls"])

    def test_badValues(self):
        """
        Every bad value is named in a usage error.
        """
        for argv, expected in [
            ([], "which server"),
            (["h", "0"], "PORT must be"),
            (["h", "65536"], "PORT must be"),
            (["h", "http"], "PORT must be"),
            (["h", "--timeout", "-1"], "--timeout"),
            (["h", "--fingerprint", "abc"], "64 hex digits"),
            (["h", "--ca", "/nonexistent"], "cannot read --ca"),
            (["h", "--endpoint", "tcp:h:1"], "--endpoint describes"),
        ]:
            e = self.assertRaises(cli.UsageError, cli.parseArguments, argv)
            self.assertIn(expected, str(e))

    def test_endpoints(self):
        """
        HOST PORT becomes a host name endpoint, wrapped in TLS when asked.
        """
        reactor = MemoryReactor()
        plain, pinned = cli.makeEndpoint(reactor, cli.parseArguments(["h", "1"]))
        self.assertIsInstance(plain, HostnameEndpoint)
        self.assertIsNone(pinned)
        wrapped, pinned = cli.makeEndpoint(
            reactor, cli.parseArguments(["h", "1", "--fingerprint", "00" * 32])
        )
        self.assertEqual(pinned.digest, bytes(32))
        self.assertNotIsInstance(wrapped, HostnameEndpoint)


class ExplainTests(SynchronousTestCase):
    """
    L{cli.explain} gives one line with what to do.
    """

    def explain(self, exception, **kw):
        return cli.explain(Failure(exception), "h:1", **kw)

    def test_refused(self):
        """
        Refused: check the server and the port forwarding.
        """
        self.assertIn("port forwarded", self.explain(error.ConnectionRefusedError()))

    def test_unknownHost(self):
        """
        Unknown host: check the name.
        """
        self.assertIn("check the host name", self.explain(error.DNSLookupError()))

    def test_timeout(self):
        """
        Timeout: a firewall may be dropping it.
        """
        self.assertIn("firewall", self.explain(error.TimeoutError()))

    def test_pinMismatch(self):
        """
        A certificate other than the pinned one is reported with both
        fingerprints.
        """
        pinned = tls.PinnedCertificate(bytes(32), "h")
        pinned.seen = tls.formatFingerprint(b"\x01" * 32)
        message = self.explain(SSL.Error([("SSL routines", "", "certificate verify failed")]),
                               pinned=pinned)
        self.assertIn(pinned.seen, message)
        self.assertIn(tls.formatFingerprint(bytes(32)), message)
        self.assertIn("intercepting", message)

    def test_notTLS(self):
        """
        A plaintext port answering a TLS hello: leave out --tls.
        """
        message = self.explain(SSL.Error([("SSL routines", "", "wrong version number")]))
        self.assertIn("leave out --tls", message)

    def test_untrusted(self):
        """
        A self-signed server without --fingerprint: use it.
        """
        message = self.explain(SSL.Error([("SSL routines", "", "certificate verify failed")]))
        self.assertIn("--fingerprint", message)

    def test_silentHangUp(self):
        """
        A server that hangs up without a word may be a TLS port.
        """
        self.assertIn("add --tls", self.explain(error.ConnectionDone(), heardFrom=False))
        self.assertEqual(self.explain(error.ConnectionDone()), "h:1 closed the connection")
