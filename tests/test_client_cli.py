"""
Tests for L{globalchat.client.cli}: the command line and the messages a
user sees when connecting fails.
"""

import io
import sys
from pathlib import Path

from twisted.internet import error
from twisted.internet.defer import ensureDeferred
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase

from globalchat import tls
from globalchat.client import cli
from tests.test_client_session import POLICY, FakeEndpoint


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
            (["h", "--ca", "/nonexistent"], "cannot read --ca /nonexistent: No such file"),
            (["h", "--ca", __file__], "it is not a PEM certificate"),
            (["h", "--cert", __file__], "it is not a PEM certificate and its key"),
            (["h", "--endpoint", "tcp:h:1"], "--endpoint describes"),
            (["h", "--no-reconnect", "--timeout", "0"], "--timeout"),
            (["h", "--name", ""], "--name must not be empty"),
            (["h", "--name", "  "], "--name must not be empty"),
        ]:
            e = self.assertRaises(cli.UsageError, cli.parseArguments, argv)
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
            e = self.assertRaises(cli.UsageError, cli.parseArguments, ["--endpoint", endpoint])
            self.assertEqual(str(e), f"bad --endpoint {endpoint!r}: {reason}; it should look like "
                                     "tcp:chat.example.org:12345, tls:chat.example.org:12345 or "
                                     "unix:/run/globalchat.sock")

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
        client = cli.Client(self.clock, cli.parseArguments(["h", "1", "--name", "John", *argv]),
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
        client = cli.Client(self.clock, cli.parseArguments(
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
        From a pipe, a refused name ends the command with status 1 after
        the server's reason; the chat line behind it is not sent.
        """
        client = cli.Client(self.clock, cli.parseArguments(["h", "1", "--name", "ann"]), False)
        ensureDeferred(client.connect(self.endpoint, POLICY))
        connection = self.endpoint.accept()
        client.inputLine(b"hi")
        client.inputEnded()
        connection.say("ERROR the name ann is taken, choose another")
        self.assertEqual(self.successResultOf(client.done), 1)
        self.assertEqual(connection.sent(), ["@tags ann"])
        self.assertEqual(self.stdout.getvalue(), "error: the name ann is taken, choose another\n")
        self.assertEqual(self.stderr.getvalue(),
                         "globalchat-client: h:1 did not take the name, so nothing else was sent\n")

    def test_refusedNameAskedAgain(self):
        """
        On a terminal, a refused name is asked for again: the next line
        typed is the name.
        """
        client = cli.Client(self.clock, cli.parseArguments(["h", "1", "--name", "bad name"]), True)
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
