"""
Tests for L{globalchat.identity.accounts} and L{globalchat.identity.throttle}.
"""

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.errors import ChatError
from globalchat.identity.accounts import Accounts, readFingerprint
from globalchat.identity.throttle import LoginThrottle
from globalchat.store.memory import MemoryStore


class AccountsTests(SynchronousTestCase):
    def setUp(self):
        self.accounts = Accounts(MemoryStore(), defer=maybeDeferred, now=lambda: 1.0)

    def test_registerHashes(self):
        """
        An account keeps a hash that the password verifies, never the
        password itself.
        """
        account = self.successResultOf(self.accounts.register("Bea", "correct-horse"))
        self.assertEqual((account.key, account.display), ("bea", "Bea"))
        self.assertNotIn("correct-horse", account.passwordHash)
        self.assertTrue(self.successResultOf(
            self.accounts.verify(account.passwordHash, "correct-horse")))
        self.assertFalse(self.successResultOf(self.accounts.verify(account.passwordHash, "x")))

    def test_refusals(self):
        """
        Weak passwords and taken or look-alike names are refused with a
        reason, and nothing is stored.
        """
        self.successResultOf(self.accounts.register("Bea", "correct-horse"))
        for name, password, reason in [
                ("Cy", "short", "a password needs at least 8 characters"),
                ("Cy", "has space in it", "a password is one word, without spaces"),
                ("BEA", "correct-horse", "BEA is registered already"),
                ("Веа", "correct-horse", "the name Веа looks like the account Bea; "
                                         "register another name")]:
            failure = self.failureResultOf(self.accounts.register(name, password), ChatError)
            self.assertEqual(failure.getErrorMessage(), reason)
        self.assertEqual(len(self.successResultOf(self.accounts.store.accounts())), 1)

    def test_fingerprints(self):
        """
        Fingerprints are read in any of the ways users paste them.
        """
        hexed = "ab" * 32
        for text in (hexed, hexed.upper(), "SHA256:" + ":".join(["AB"] * 32)):
            self.assertEqual(readFingerprint(text), hexed)
        self.assertRaises(ChatError, readFingerprint, "SHA256:AB")


class ThrottleTests(SynchronousTestCase):
    def test_backOff(self):
        """
        Each failure doubles the wait, for the name and for the address
        alike; a success clears the name's; old failures are forgotten.
        """
        clock = Clock()
        throttle = LoginThrottle(clock)
        throttle.check("bea", "192.0.2.1")
        throttle.failed("bea", "192.0.2.1")
        self.assertRaises(ChatError, throttle.check, "bea", "192.0.2.9")
        self.assertRaises(ChatError, throttle.check, "cy", "192.0.2.1")
        clock.advance(1)
        throttle.check("bea", "192.0.2.1")
        throttle.failed("bea", "192.0.2.1")
        clock.advance(1)
        e = self.assertRaises(ChatError, throttle.check, "bea", "192.0.2.2")
        self.assertEqual(str(e), "too many failed logins; try again in 1 s")
        throttle.succeeded("bea")
        throttle.check("bea", "192.0.2.2")
        clock.advance(600)
        throttle.check("cy", "192.0.2.1")
