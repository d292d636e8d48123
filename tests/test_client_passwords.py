"""
Tests for L{globalchat.client.passwords}: where the client's passwords
come from.
"""

import getpass
import os

from twisted.trial.unittest import SynchronousTestCase

from globalchat.client.passwords import NoPassword, loginPassword, registerLine


class PasswordTestCase(SynchronousTestCase):
    """
    A terminal whose answers the test gives, and an empty environment.
    """

    def setUp(self):
        self.prompts = []
        self.answers = []
        self.patch(getpass, "getpass", self.getpass)
        self.patch(os, "environ", {})

    def getpass(self, prompt):
        self.prompts.append(prompt)
        return self.answers.pop(0)


class LoginPasswordTests(PasswordTestCase):
    """
    L{loginPassword}.
    """

    def test_order(self):
        """
        --password-file first, then GLOBALCHAT_PASSWORD, then the terminal,
        which is asked for the password of the name the server named.
        """
        os.environ["GLOBALCHAT_PASSWORD"] = "from-env"
        self.assertEqual(loginPassword("Bea", "from-file", True), "from-file")
        self.assertEqual(loginPassword("Bea", None, True), "from-env")
        del os.environ["GLOBALCHAT_PASSWORD"]
        self.answers = ["typed-pass"]
        self.assertEqual(loginPassword("Bea", None, True), "typed-pass")
        self.assertEqual(self.prompts, ["Password for Bea: "])

    def test_scriptWithoutPassword(self):
        """
        A script that gave none is told where to give it; nothing is asked.
        """
        e = self.assertRaises(NoPassword, loginPassword, "Bea", None, False)
        self.assertEqual(str(e), "set GLOBALCHAT_PASSWORD or use --password-file")
        self.assertEqual(self.prompts, [])


class RegisterLineTests(PasswordTestCase):
    """
    L{registerLine}.
    """

    def test_asksTwice(self):
        """
        C{/register} alone (any case) gets a password asked twice.
        """
        self.answers = ["correct-horse", "correct-horse"]
        self.assertEqual(registerLine(b"/REGISTER "), b"/register correct-horse")
        self.assertEqual(self.prompts, ["New password for your account: ", "Again: "])

    def test_differ(self):
        """
        Two different answers are refused.
        """
        self.answers = ["correct-horse", "correct-hosre"]
        e = self.assertRaises(ValueError, registerLine, b"/register")
        self.assertEqual(str(e), "the passwords differ")

    def test_otherLines(self):
        """
        Other lines, C{/register PASSWORD} among them, are left alone.
        """
        for line in [b"/register correct-horse", b"hello", b"//register", b"/registers"]:
            self.assertEqual(registerLine(line), line)
        self.assertEqual(self.prompts, [])
