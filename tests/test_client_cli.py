"""
Tests for L{globalchat.client.cli}: the messages a user sees about the
connection and the login, and when the command ends.
"""

import getpass
import io
import os
import sys
from pathlib import Path

from twisted.internet import error
from twisted.internet.defer import ensureDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.client import cli
from globalchat.client.options import parseArguments
from globalchat.tls import issueCertificate
from tests.test_client_session import POLICY, FakeEndpoint


class MainTests(SynchronousTestCase):
    """
    L{cli.main}.
    """

    def test_mainUsageError(self):
        """
        The command prints a usage error as one line with a pointer to
        --help, and exits 2; a mistyped option gets the one probably meant.
        """
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        for argv, line in [
            (["--endpoint", "bogus:1"], "globalchat-client: bad --endpoint 'bogus:1': "),
            (["--nmae", "x", "h"], "globalchat-client: unrecognized argument --nmae; "
                                   "did you mean --name? (see globalchat-client --help)"),
        ]:
            stderr.truncate(0)
            stderr.seek(0)
            e = self.assertRaises(SystemExit, cli.main, argv)
            self.assertEqual(e.code, 2)
            self.assertEqual(len(stderr.getvalue().splitlines()), 1, stderr.getvalue())
            self.assertTrue(stderr.getvalue().startswith(line), stderr.getvalue())
            self.assertTrue(stderr.getvalue().endswith("(see globalchat-client --help)\n"))


class ClientTests(SynchronousTestCase):
    """
    L{cli.Client} on a fake endpoint: what the user is told about the
    connection, and when the command ends.
    """

    def setUp(self):
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)
        self.clock = Clock()
        self.endpoint = FakeEndpoint()

    def start(self, *argv, interactive=False):
        client = cli.Client(self.clock, parseArguments(["h", "1", "--name", "John", *argv]),
                            interactive)
        connecting = ensureDeferred(client.connect(self.endpoint, POLICY))
        self.connection = self.endpoint.accept()
        self.assertTrue(self.successResultOf(connecting))
        self.connection.say("Hello Good morning !!!! ::: John")
        return client

    def test_statusLines(self):
        """
        The user is told of the drop, each reconnection attempt with its
        delay, and the return, on standard error.
        """
        client = self.start()
        client.inputLine(b"hi")
        self.connection.drop()
        self.clock.advance(1)
        self.endpoint.refuse()
        self.clock.advance(2)
        self.endpoint.accept().say("Hello Good morning !!!! ::: John")
        self.assertEqual(self.stderr.getvalue().splitlines(), [
            "* disconnected: h:1 closed the connection",
            "* reconnecting to h:1 in 1.0 s",
            "* reconnecting to h:1 in 2.0 s",
            "* back on h:1 as John",
        ])
        self.assertNoResult(client.done)

    def test_pipeGivesUp(self):
        """
        From a pipe, not getting back within --timeout ends the command
        with one line saying so, and exit status 1.
        """
        client = self.start("--timeout", "5")
        client.inputLine(b"hi")
        client.inputEnded()
        self.connection.drop()
        for delay in (1, 2):
            self.clock.advance(delay)
            self.endpoint.refuse()
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(self.stderr.getvalue().splitlines()[-1],
                         "globalchat-client: could not reconnect to h:1 within 5 s; "
                         "1 line(s) not sent or not answered")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_pipeDoneAfterResume(self):
        """
        A pipe that ended while disconnected exits 0 once its lines are
        answered on the new connection.
        """
        client = self.start()
        client.inputLine(b"hi")
        client.inputEnded()
        self.connection.drop()
        self.clock.advance(1)
        connection = self.endpoint.accept()
        connection.say("Hello Good morning !!!! ::: John")
        self.assertNoResult(client.done)
        connection.say("@id=1 MSG #lobby <John> hi")
        self.assertEqual(self.successResultOf(client.done), 0)

    def test_interactiveKeepsTrying(self):
        """
        On a terminal, reconnecting goes on until the user quits: /quit
        while disconnected ends the command at once.
        """
        client = self.start(interactive=True)
        self.connection.drop()
        for delay in (1, 2, 4, 8, 16, 30):
            self.clock.advance(delay)
            self.endpoint.refuse()
        self.assertNoResult(client.done)
        client.inputLine(b"/quit")
        self.assertEqual(self.successResultOf(client.done), 0)

    def test_quitNotResumed(self):
        """
        The server hangs up after /quit: the command ends instead of
        reconnecting.
        """
        client = self.start()
        client.inputLine(b"/quit")
        self.connection.say("OK /quit")
        self.connection.drop(error.ConnectionDone())
        self.assertEqual(self.successResultOf(client.done), 0)
        self.assertEqual(self.stderr.getvalue(), "")

    def test_noReconnect(self):
        """
        With --no-reconnect, a drop ends the command, as it always did.
        """
        client = self.start("--no-reconnect")
        self.connection.drop(error.ConnectionDone())
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(self.stderr.getvalue(), "globalchat-client: h:1 closed the connection\n")

    def test_refusedForGood(self):
        """
        A ban when logging in again ends the command with the reason.
        """
        client = self.start()
        self.connection.drop()
        self.clock.advance(1)
        self.endpoint.accept().say("ERROR banned")
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(self.stderr.getvalue().splitlines()[-1],
                         "globalchat-client: h:1 refused to take us back: banned")

    def test_passwordReadOnce(self):
        """
        The password read for the first login is given again on
        reconnection, not read again.
        """
        password = Path(self.mktemp())
        password.write_text("sesame\n")
        client = cli.Client(self.clock, parseArguments(
            ["h", "1", "--name", "John", "--password-file", str(password)]), False)
        ensureDeferred(client.connect(self.endpoint, POLICY))
        connection = self.endpoint.accept()
        connection.sent()
        connection.say("AUTH John")
        password.write_text("changed\n")
        connection.say("Hello Good morning !!!! ::: John")
        connection.drop()
        self.clock.advance(1)
        connection = self.endpoint.accept()
        connection.say("AUTH John")
        self.assertEqual(connection.sent(), ["@resume=0 John", "sesame"])

    def test_refusedNameEndsScript(self):
        """
        From a pipe, a refused name ends the command with status 1 and the
        server's reason in one line; the chat line behind it is not sent.
        """
        client = cli.Client(self.clock, parseArguments(["h", "1", "--name", "ann"]), False)
        ensureDeferred(client.connect(self.endpoint, POLICY))
        connection = self.endpoint.accept()
        client.inputLine(b"hi")
        client.inputEnded()
        connection.say("ERROR the name ann is taken, choose another")
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(connection.sent(), ["@tags ann"])
        self.assertEqual(self.stdout.getvalue(), "")
        self.assertEqual(self.stderr.getvalue(),
                         "globalchat-client: h:1 refused the name ann: the name ann is taken, "
                         "choose another (nothing else was sent)\n")

    def test_refusedNameAskedAgain(self):
        """
        On a terminal, a refused name is asked for again: the next line
        typed is the name.
        """
        client = cli.Client(self.clock, parseArguments(["h", "1", "--name", "bad name"]), True)
        ensureDeferred(client.connect(self.endpoint, POLICY))
        connection = self.endpoint.accept()
        connection.sent()
        connection.say("ERROR invalid name 'bad name'")
        self.assertEqual(self.stderr.getvalue(), "* type another name\n")
        client.inputLine(b"John")
        self.assertEqual(connection.sent(), ["@tags John"])
        self.assertNoResult(client.done)

    def test_rawKeepsTags(self):
        """
        --raw prints lines exactly as they came, tags included, but a
        stored message only once.
        """
        self.start("--raw")
        self.connection.say("@id=3 MSG #lobby <Ann> hi", "@id=3 MSG #lobby <Ann> hi")
        self.assertEqual(self.stdout.getvalue().splitlines(), [
            "Hello Good morning !!!! ::: John", "@id=3 MSG #lobby <Ann> hi"])


class AccountTests(SynchronousTestCase):
    """
    Logging in to an account and registering one, from a terminal and
    from a script.
    """

    def setUp(self):
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        self.patch(sys, "stdout", self.stdout)
        self.patch(sys, "stderr", self.stderr)
        self.patch(os, "environ", {})
        self.prompts = []
        self.answers = []
        self.patch(getpass, "getpass", self.getpass)
        self.clock = Clock()
        self.endpoint = FakeEndpoint()

    def getpass(self, prompt):
        self.prompts.append(prompt)
        return self.answers.pop(0)

    def start(self, *argv, interactive=False):
        client = cli.Client(self.clock, parseArguments(["h", "1", *argv]), interactive)
        ensureDeferred(client.connect(self.endpoint, POLICY))
        self.connection = self.endpoint.accept()
        return client

    def passwordFile(self, password):
        path = Path(self.mktemp())
        path.write_text(password + "\n")
        return str(path)

    def test_accountPasswordAsked(self):
        """
        On a terminal, C{AUTH Bea} asks for Bea's password without echo,
        naming her; the greeting follows.
        """
        self.answers = ["correct-horse"]
        client = self.start("--name", "Bea", interactive=True)
        self.connection.say("AUTH Bea")
        self.assertEqual(self.prompts, ["Password for Bea: "])
        self.assertEqual(self.connection.sent(), ["@tags Bea", "correct-horse"])
        self.connection.say("Hello Good morning !!!! ::: Bea")
        self.assertNoResult(client.done)

    def test_passwordFileForAccount(self):
        """
        A script gives the account's password with --password-file: its
        lines wait for the login, nothing is asked, and it exits 0 once
        they are answered.
        """
        client = self.start("--name", "Bea", "--password-file", self.passwordFile("correct-horse"))
        client.inputLine(b"hello")
        client.inputEnded()
        self.connection.say("AUTH Bea")
        self.connection.say("Hello Good morning !!!! ::: Bea")
        sent = self.connection.sent()
        self.assertEqual(sent[:2], ["@tags Bea", "correct-horse"])
        self.assertTrue(sent[2].endswith(" hello"), sent)
        self.connection.say(f"@id=1;cid={sent[2][4:-6]} MSG #lobby <Bea> hello")
        self.assertEqual(self.successResultOf(client.done), 0)
        self.assertEqual(self.prompts, [])

    def test_wrongPasswordOneLine(self):
        """
        From a pipe, a wrong password ends the command with status 1 and
        one line naming the account and the server's reason.
        """
        client = self.start("--name", "Bea", "--password-file", self.passwordFile("guess-guess"))
        client.inputLine(b"hello")
        client.inputEnded()
        self.connection.say("AUTH Bea", "ERROR wrong password; give your name again")
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(self.stdout.getvalue(), "Bea needs a password\n")
        self.assertEqual(self.stderr.getvalue(),
                         "globalchat-client: h:1 refused the password for Bea: wrong password; "
                         "give your name again (nothing else was sent)\n")

    def test_noPasswordInPipe(self):
        """
        A script with no password to give is told where to give one, and
        exits 1 even when its input had ended before the server asked.
        """
        client = self.start()
        client.inputLine(b"Bea")
        client.inputEnded()
        self.connection.say("AUTH Bea")
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(self.stderr.getvalue().splitlines()[-1],
                         "globalchat-client: h:1 asks for a password for Bea: set "
                         "GLOBALCHAT_PASSWORD or use --password-file")

    def test_certificateLogin(self):
        """
        With --cert and --key alone, a certificate bound to an account logs
        in without a password: the server greets the account's name, and
        the client logs in again under it after a drop.
        """
        pki = Path(self.mktemp())
        pki.mkdir()
        issueCertificate(pki / "bea.crt", pki / "bea.key", "bea", client=True)
        client = self.start("--cert", str(pki / "bea.crt"), "--key", str(pki / "bea.key"))
        client.inputLine(b"anything")
        self.connection.say("Hello Good morning !!!! ::: Bea", "NICK anything Bea")
        self.connection.drop()
        self.clock.advance(1)
        again = self.endpoint.accept()
        self.assertEqual(again.sent(), ["@resume=0 Bea"])
        self.assertEqual(self.prompts, [])
        self.assertEqual(self.stdout.getvalue().splitlines()[0], "Hello Good morning !!!! ::: Bea")

    def test_registerPrompts(self):
        """
        On a terminal, C{/register} alone asks for the new password twice
        without echo and sends it; the typed line never holds it.
        """
        self.answers = ["correct-horse", "correct-horse"]
        client = self.start("--name", "Bea", interactive=True)
        self.connection.say("Hello Good morning !!!! ::: Bea")
        self.connection.sent()
        client.inputLine(b"/register")
        self.assertEqual(self.prompts, ["New password for your account: ", "Again: "])
        self.assertEqual(self.connection.sent(), ["/register correct-horse"])

    def test_registerMismatch(self):
        """
        Two different passwords send nothing, and the user is told so.
        """
        self.answers = ["correct-horse", "correct-hosre"]
        client = self.start("--name", "Bea", interactive=True)
        self.connection.say("Hello Good morning !!!! ::: Bea")
        self.connection.sent()
        client.inputLine(b"/register")
        self.assertEqual(self.connection.sent(), [])
        self.assertEqual(self.stderr.getvalue().splitlines()[-1],
                         "* the passwords differ; nothing was sent")

    def test_registerInPipe(self):
        """
        From a pipe, C{/register PASSWORD} is sent as it was written, and
        nothing is asked.
        """
        client = self.start("--name", "Bea")
        self.connection.say("Hello Good morning !!!! ::: Bea")
        self.connection.sent()
        client.inputLine(b"/register correct-horse")
        self.assertEqual(self.connection.sent(), ["/register correct-horse"])
        self.assertEqual(self.prompts, [])

    def test_serverErrorOneLine(self):
        """
        A refused account command is one line, the server's reason.
        """
        client = self.start("--name", "Cy")
        self.connection.say("Hello Good morning !!!! ::: Cy")
        client.inputLine(b"/register short")
        self.connection.say("ERROR a password needs at least 8 characters")
        self.assertEqual(self.stdout.getvalue().splitlines()[1:],
                         ["error: a password needs at least 8 characters"])
