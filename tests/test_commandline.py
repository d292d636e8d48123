"""
Tests for L{globalchat.commandline}: what every console script prints for
a command line it cannot use.
"""

import io
import sys

from twisted.trial.unittest import SynchronousTestCase

from globalchat import auth, certs, commandline, doctor
from globalchat.client import cli


class ConsoleScriptTests(SynchronousTestCase):
    """
    Every console script answers a mistyped option with one line: the
    error, the option probably meant, and where the help is.
    """

    def setUp(self):
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)

    def exitCode(self, main, argv):
        self.stdout.truncate(0), self.stdout.seek(0)
        self.stderr.truncate(0), self.stderr.seek(0)
        return self.assertRaises(SystemExit, main, argv).code

    def test_unknownOption(self):
        """
        One line on standard error, a suggestion when one is close, and
        exit status 2.
        """
        for main, argv, line in [
            (cli.main, ["--nmae", "x", "h"],
             "globalchat-client: unrecognized argument --nmae; did you mean --name? "
             "(see globalchat-client --help)"),
            (doctor.main, ["--prot", "1"],
             "globalchat-doctor: unrecognized argument --prot; did you mean --port? "
             "(see globalchat-doctor --help)"),
            (auth.main, ["--force", "x"],
             "globalchat-passwd: unrecognized argument --force (see globalchat-passwd --help)"),
            (certs.main, ["ca", "d", "--dirr"],
             "globalchat-cert: unrecognized argument --dirr (see globalchat-cert --help)"),
        ]:
            self.assertEqual(self.exitCode(main, argv), 2)
            self.assertEqual(self.stderr.getvalue(), line + "\n")

    def test_badValue(self):
        """
        A bad value names the option and what it should be.
        """
        self.assertEqual(self.exitCode(doctor.main, ["--port", "x"]), 2)
        self.assertEqual(self.stderr.getvalue(),
                         "globalchat-doctor: argument --port: must be a number from 1 to 65535, "
                         "not 'x' (see globalchat-doctor --help)\n")

    def test_help(self):
        """
        C{--help} prints the help and exits 0, for every script;
        globalchat-passwd has one too, and the client says where lines go.
        """
        for main in (cli.main, doctor.main, auth.main, certs.main):
            self.assertEqual(self.exitCode(main, ["--help"]), 0)
            self.assertIn("--help", self.stdout.getvalue())
            self.assertNotIn("C{", self.stdout.getvalue())
        self.exitCode(cli.main, ["--help"])
        self.assertIn("room you are in", " ".join(self.stdout.getvalue().split()))
        self.assertNotIn("everyone", self.stdout.getvalue())


class DidYouMeanTests(SynchronousTestCase):
    """
    L{commandline.didYouMean}.
    """

    def test_close(self):
        """
        A close option is suggested, a value after C{=} does not matter,
        and nothing is said when nothing is close.
        """
        known = ["--port", "--motd", "--help"]
        self.assertEqual(commandline.didYouMean("--portt=1", known), "; did you mean --port?")
        self.assertEqual(commandline.didYouMean("--xyzzy", known), "")
