"""
Tests for L{globalchat.irc.registration}: CAP, NICK, USER, PASS and SASL
over the real IRC protocol on a L{StringTransport}.
"""

import base64

from twisted.trial.unittest import SynchronousTestCase

from tests.chatfakes import clientCertificate
from tests.ircfakes import IRCChat


def plain(*parts):
    return base64.b64encode("\0".join(parts).encode()).decode()


class RegistrationTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()

    def test_withoutCap(self):
        """
        NICK and USER register a client: 001 to 005, LUSERS and the MOTD
        numerics, and nothing puts it in a channel.
        """
        client = self.chat.irc()
        client.send("NICK ann", "USER ann 0 * :Ann Smith")
        codes = client.commands()
        self.assertEqual(codes[:5], ["001", "002", "003", "004", "005"])
        self.assertIn("251", codes)
        self.assertEqual(codes[-1], "422")
        self.assertNotIn("JOIN", codes)
        self.assertEqual(self.chat.hub.names, ["ann"])

    def test_isupport(self):
        """
        ISUPPORT tells the limits the server enforces and its case mapping.
        """
        client = self.chat.irc()
        client.send("NICK ann", "USER ann 0 * :Ann")
        tokens = [p for m in client.messages() if m.command == "005" for p in m.params[1:-1]]
        for token in ("CASEMAPPING=rfc8265", "NICKLEN=32", "CHANNELLEN=33", "CHANTYPES=#",
                      "PREFIX=(ov)@+", "UTF8ONLY"):
            self.assertIn(token, tokens)

    def test_capWaitsForEnd(self):
        """
        A client negotiating capabilities is welcomed only after CAP END;
        CAP REQ of an unknown one is refused whole.
        """
        client = self.chat.irc()
        client.send("CAP LS 302", "NICK ann", "USER ann 0 * :Ann")
        ls = client.messages()
        self.assertEqual(ls[0].command, "CAP")
        self.assertIn("sasl=PLAIN,EXTERNAL", ls[0].params[-1].split())
        self.assertEqual(len(ls), 1)
        client.send("CAP REQ :server-time nonsense")
        self.assertEqual(client.messages()[0].params[1:], ["NAK", "server-time nonsense"])
        client.send("CAP REQ :server-time echo-message", "CAP END")
        messages = client.messages()
        self.assertEqual(messages[0].params[1:], ["ACK", "server-time echo-message"])
        self.assertEqual(messages[1].command, "001")
        self.assertEqual(client.session.caps, {"server-time", "echo-message", "cap-notify"})

    def test_nickErrors(self):
        """
        A nick that is not a valid name gets 432, one in use 433; the
        client then picks another.
        """
        self.chat.irc("ann")
        client = self.chat.irc()
        client.send("NICK bad!nick", "NICK ANN", "NICK", "USER bob 0 * :Bob")
        self.assertEqual([(m.command, m.params[1:2]) for m in client.messages()],
                         [("432", ["bad!nick"]), ("433", ["ANN"]), ("431", ["No nickname given"])])
        client.send("NICK bob")
        self.assertEqual(client.commands()[0], "001")

    def test_caseMappingIsTheNamesFolding(self):
        """
        CASEMAPPING=rfc8265 is the truth: a nick that folds (PRECIS
        UsernameCaseMapped: case and width) to one in use is in use.
        """
        self.chat.irc("ann")
        client = self.chat.irc()
        client.send("NICK \uff21NN", "NICK Ann")
        self.assertEqual(client.commands(), ["433", "433"])

    def test_notRegistered(self):
        """
        Commands other than registration's get 451 before it.
        """
        client = self.chat.irc()
        client.send("JOIN #a", "PING x")
        self.assertEqual(client.commands(), ["451", "PONG"])

    def test_accountNeedsLogin(self):
        """
        A registered account's name cannot be taken by NICK alone; PASS
        with its password logs in to it.
        """
        self.chat.connect("Ann", "/register ann-password")[0].lineReceived("/quit")
        client = self.chat.irc()
        client.send("NICK Ann", "USER ann 0 * :Ann")
        self.assertEqual(client.commands(), ["433"])
        other = self.chat.irc()
        other.send("PASS ann-password", "NICK Ann", "USER ann 0 * :Ann")
        self.assertEqual(other.commands()[0], "001")
        self.assertEqual(other.session.account, "ann")

    def test_wrongPass(self):
        """
        A wrong PASS is 464 and the connection ends, with a strike
        against the address.
        """
        self.chat.connect("Ann", "/register ann-password")[0].lineReceived("/quit")
        client = self.chat.irc()
        client.send("PASS guess", "NICK Ann", "USER ann 0 * :Ann")
        self.assertEqual(client.commands(), ["464", "ERROR"])
        self.assertTrue(client.transport.disconnecting)
        self.assertEqual(len(self.chat.strikes), 1)


class SASLTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.chat.connect("Ann", "/register ann-password")[0].lineReceived("/quit")

    def saslClient(self, **kwargs):
        client = self.chat.irc(**kwargs)
        client.send("CAP LS 302", "CAP REQ sasl")
        client.messages()
        return client

    def test_plain(self):
        """
        SASL PLAIN logs in with the account's password: 900 shows the
        account as displayed, then 903; registration then welcomes it.
        """
        client = self.saslClient()
        client.send("AUTHENTICATE PLAIN")
        self.assertEqual([(m.command, m.params) for m in client.messages()],
                         [("AUTHENTICATE", ["+"])])
        client.send("AUTHENTICATE " + plain("", "ann", "ann-password"))
        loggedIn, success = client.messages()
        self.assertEqual(loggedIn.command, "900")
        self.assertEqual(loggedIn.params[2], "Ann")
        self.assertEqual(success.command, "903")
        client.send("NICK whatever", "USER ann 0 * :Ann", "CAP END")
        messages = client.messages()
        self.assertEqual(messages[0].params[0], "Ann")
        self.assertIn("NICK", [m.command for m in messages])
        self.assertEqual(client.session.account, "ann")

    def test_plainWrong(self):
        """
        A wrong password is 904 and a strike; the client may go on as a
        guest under another nick.
        """
        client = self.saslClient()
        client.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("ann", "ann", "nope"))
        self.assertEqual(client.commands(), ["AUTHENTICATE", "904"])
        self.assertEqual(len(self.chat.strikes), 1)
        client.send("NICK guest", "USER g 0 * :G", "CAP END")
        self.assertEqual(client.commands()[0], "001")

    def test_throttled(self):
        """
        A login throttled after failures is answered 904, not FAIL.
        """
        for _ in range(2):
            client = self.saslClient()
            client.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "Ann", "nope"))
            self.assertEqual(client.commands()[-1], "904")

    def test_abortAndMechanisms(self):
        """
        AUTHENTICATE * aborts (906); an unknown mechanism lists ours (908).
        """
        client = self.saslClient()
        client.send("AUTHENTICATE SCRAM-SHA-256", "AUTHENTICATE PLAIN", "AUTHENTICATE *")
        messages = client.messages()
        self.assertEqual([m.command for m in messages], ["908", "904", "AUTHENTICATE", "906"])
        self.assertEqual(messages[0].params[1], "PLAIN,EXTERNAL")

    def test_external(self):
        """
        SASL EXTERNAL logs in to the account that bound the client's
        certificate; without one bound it fails with 904.
        """
        certificate = clientCertificate(self.mktemp(), "whoever")
        stranger = self.saslClient(certificate=certificate)
        stranger.send("AUTHENTICATE EXTERNAL", "AUTHENTICATE +")
        self.assertEqual(stranger.commands(), ["AUTHENTICATE", "904"])
        from globalchat.tls import certificateDigest
        self.successResultOf(self.chat.hub.accounts.bind("ann", certificateDigest(certificate)))
        client = self.saslClient(certificate=certificate)
        client.send("AUTHENTICATE EXTERNAL", "AUTHENTICATE +")
        self.assertEqual(client.commands(), ["AUTHENTICATE", "900", "903"])
        self.assertEqual(client.session.account, "ann")

    def test_loginTimeout(self):
        """
        A client that logged in with SASL but never ends registration is
        cut off at the login time-out like any other.
        """
        client = self.saslClient()
        client.send("AUTHENTICATE PLAIN", "AUTHENTICATE " + plain("", "ann", "ann-password"))
        client.messages()
        self.chat.clock.advance(31)
        client.session.checkTimeouts(self.chat.clock.seconds())
        self.assertEqual(client.commands()[-1], "ERROR")
        self.assertTrue(client.transport.disconnecting)
