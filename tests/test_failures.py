"""
Tests for L{globalchat.failures}: what a user, or whoever asked for a
probe, is told when connecting fails.
"""

from pathlib import Path

from OpenSSL import SSL
from twisted.internet import error
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls
from globalchat.client.knownhosts import KnownHost
from globalchat.failures import explain


class ExplainTests(SynchronousTestCase):
    """
    L{explain} gives one line with what to do.
    """

    def explain(self, exception, **kw):
        return explain(Failure(exception), "h:1", **kw)

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

    def test_changedCertificate(self):
        """
        A certificate other than the one recorded in known_hosts is a loud
        warning naming the file and the line to remove.
        """
        pinned = tls.PinnedCertificate(bytes(32), "h")
        pinned.seen = tls.formatFingerprint(b"\x01" * 32)
        known = KnownHost(bytes(32), Path("/home/ann/known_hosts"), 3)
        message = self.explain(SSL.Error([("SSL routines", "", "certificate verify failed")]),
                               pinned=pinned, known=known)
        self.assertIn("HAS CHANGED", message)
        self.assertIn(pinned.seen, message)
        self.assertIn("remove line 3 of /home/ann/known_hosts", message)
