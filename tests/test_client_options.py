"""
Tests for L{globalchat.client.options}: the command line of
C{globalchat-client} and the endpoint it describes.
"""

from pathlib import Path

from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls
from globalchat.client import options as clientOptions


class ArgumentsTests(SynchronousTestCase):
    """
    L{globalchat.client.options.parseArguments}.
    """

    def test_hostAndDefaultPort(self):
        """
        A host alone means port 12345 without TLS.
        """
        options = clientOptions.parseArguments(["chat.example.org"])
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
        options = clientOptions.parseArguments(
            ["203.0.113.7", "12345", "--tls", "--fingerprint", tls.formatFingerprint(digest)]
        )
        self.assertEqual(options["fingerprint"], digest)
        self.assertTrue(options["tls"])

    def test_caImpliesTLS(self):
        """
        C{--ca} loads the CA certificate and implies TLS.
        """
        cert, _, _ = tls.ensureCertificate(Path(self.mktemp()))
        options = clientOptions.parseArguments(["h", "--ca", str(cert)])
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
            (["h", "--ca", "/nonexistent"], "cannot read --ca /nonexistent: No such file"),
            (["h", "--ca", __file__], "it is not a PEM certificate"),
            (["h", "--cert", __file__], "it is not a PEM certificate and its key"),
            (["h", "--endpoint", "tcp:h:1"], "--endpoint describes"),
            (["h", "--no-reconnect", "--timeout", "0"], "--timeout"),
            (["h", "--name", ""], "--name must not be empty"),
            (["h", "--name", "  "], "--name must not be empty"),
            (["h", "--password-file", "/nonexistent"],
             "cannot read --password-file /nonexistent: No such file"),
        ]:
            e = self.assertRaises(clientOptions.UsageError, clientOptions.parseArguments, argv)
            self.assertIn(expected, str(e))

    def test_badEndpoint(self):
        """
        An endpoint Twisted cannot parse is one line naming it, what is
        wrong and what a good one looks like; no Python internals.
        """
        for endpoint, reason in [
            ("bogus:1", "unknown endpoint type 'bogus'"),
            ("tcp:127.0.0.1:notaport", "'notaport' is not a number"),
            ("tcp:127.0.0.1", "the port is missing"),
        ]:
            e = self.assertRaises(clientOptions.UsageError, clientOptions.parseArguments, ["--endpoint", endpoint])
            self.assertEqual(str(e), f"bad --endpoint {endpoint!r}: {reason}; it should look like "
                                     "tcp:chat.example.org:12345, tls:chat.example.org:12345 or "
                                     "unix:/run/globalchat.sock")

    def test_endpoints(self):
        """
        HOST PORT becomes a host name endpoint, wrapped in TLS when asked.
        """
        reactor = MemoryReactor()
        plain, pinned = clientOptions.makeEndpoint(reactor, clientOptions.parseArguments(["h", "1"]))
        self.assertIsInstance(plain, HostnameEndpoint)
        self.assertIsNone(pinned)
        wrapped, pinned = clientOptions.makeEndpoint(
            reactor, clientOptions.parseArguments(["h", "1", "--fingerprint", "00" * 32])
        )
        self.assertEqual(pinned.digest, bytes(32))
        self.assertNotIsInstance(wrapped, HostnameEndpoint)

    def test_passwordFile(self):
        """
        --password-file is read at once: its first line is the password.
        """
        path = Path(self.mktemp())
        path.write_text("correct-horse\nignored\n")
        self.assertEqual(
            clientOptions.parseArguments(["h", "--password-file", str(path)])["password"],
            "correct-horse")
