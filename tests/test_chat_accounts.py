"""
Tests for accounts in the chat: a name is owned, private messages reach
only their owner, guests keep working (L{globalchat.chat.accountcommands},
L{globalchat.identity}).
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.chatfakes import Chat, clientCertificate

GREETING = "Hello Good morning !!!! ::: {}"


class AccountTests(SynchronousTestCase):
    def setUp(self):
        self.chat = Chat()
        self.bea, self.beaLines = self.chat.connect("Bea")
        self.bea.lineReceived("/register correct-horse")
        self.beaLines.lines()

    def test_guestsStillWelcome(self):
        """
        A name that is not an account logs in as before: the seed's greeting.
        """
        _, john = self.chat.connect("John")
        self.assertEqual(john.lines()[0], GREETING.format("John"))

    def test_registerThenLogIn(self):
        """
        After /register, the name asks for its password; the right one
        logs in, a wrong one does not and is a strike.
        """
        self.bea.lineReceived("/quit")
        session, lines = self.chat.connect("bea")
        self.assertEqual(lines.lines(), ["AUTH bea"])
        session.lineReceived("wrong-password")
        self.assertEqual(lines.lines(), ["ERROR wrong password; give your name again"])
        self.assertEqual(self.chat.strikes, [session])
        self.chat.clock.advance(5)
        session.lineReceived("Bea")
        session.lineReceived("correct-horse")
        self.assertEqual(lines.lines()[:2], ["AUTH Bea", GREETING.format("Bea")])
        self.assertEqual(session.account, "bea")

    def test_registerAnswers(self):
        """
        /register says what it did; weak passwords, a second account and a
        look-alike of an account are refused with a reason.
        """
        _, lines = self.chat.connect("Cy", "/register short", "/register long-enough-1",
                                     "/register again-and-again")
        self.assertEqual(lines.lines()[-4:], [
            "ERROR a password needs at least 8 characters",
            "INFO Cy is your account now: log in with it and your password from now on",
            "OK /register",
            "ERROR Cy is your account already",
        ])

    def test_lookalikeRefused(self):
        """
        A name that looks like an account (Cyrillic letters) cannot be
        registered.
        """
        self.bea.lineReceived("/quit")
        _, lines = self.chat.connect("Веа")
        lines.lines()
        session = self.chat.hub.bus.holder("Веа")
        session.lineReceived("/register another-pass")
        self.assertEqual(lines.lines(), [
            "ERROR the name Веа looks like the account Bea; register another name"])

    def test_guestCannotTakeAccount(self):
        """
        A guest cannot /nick to an account's name.
        """
        self.bea.lineReceived("/quit")
        session, lines = self.chat.connect("Mallory")
        lines.lines()
        session.lineReceived("/nick BEA")
        self.assertEqual(lines.lines(), ["ERROR BEA is a registered account: log in to it to use it"])

    def test_mallory(self):
        """
        The scenario that made accounts: a message kept for Bea is read by
        Bea only; whoever types her name gets the password question, and a
        resume gives them nothing of hers.
        """
        self.bea.lineReceived("/quit")
        _, alice = self.chat.connect("alice", "/msg Bea meet at 6, the code is 4711")
        self.assertIn("INFO Bea is offline: they get your message when they next log in",
                      alice.lines())
        mallory, seen = self.chat.connect("@resume=0 Bea")
        self.assertEqual(seen.lines(), ["AUTH Bea"])
        mallory.lineReceived("guess-guess")
        mallory.lineReceived("@resume=0 Mallory")
        self.assertNotIn("4711", "\n".join(seen.lines()))
        self.chat.clock.advance(5)
        bea, lines = self.chat.connect("Bea", "correct-horse")
        self.assertIn("HIST 2026-11-27T12:00:00Z PRIV <alice> @Bea meet at 6, the code is 4711",
                      lines.lines())

    def test_guestOffline(self):
        """
        A private message to a guest who is away is refused, not kept.
        """
        _, john = self.chat.connect("John", "/quit")
        _, ann = self.chat.connect("Ann", "/msg John hello?")
        self.assertEqual(ann.lines()[-1],
                         "ERROR John is not online, and only accounts get messages while away")

    def test_clientIdsPrivate(self):
        """
        Others never see a sender's own message ids, and a guest cannot
        fetch another's stored message by using its id.
        """
        _, ann = self.chat.connect("@tags Ann")
        ann.lines()
        session, guest = self.chat.connect("@tags Gus", "@id=x.1 hello")
        own = [line for line in guest.lines() if "hello" in line]
        self.assertTrue(own[0].startswith("@id=") and ";cid=x.1 " in own[0], own)
        self.assertNotIn("cid=", "".join(ann.lines()))
        session.lineReceived("/quit")
        _, again = self.chat.connect("@tags Gus", "@id=x.1 /msg Ann other")
        self.assertEqual(again.lines()[-1], "ERROR the id x.1 was used for another message: "
                                            "send this one with a new id")

    def test_throttled(self):
        """
        Failed logins make the next try wait, longer each time.
        """
        self.bea.lineReceived("/quit")
        session, lines = self.chat.connect()
        for _ in range(2):
            session.lineReceived("Bea")
            session.lineReceived("nope-nope")
        self.assertEqual(lines.lines()[-1], "ERROR too many failed logins; try again in 1 s")
        self.chat.clock.advance(1)
        session.lineReceived("Bea")
        session.lineReceived("nope-nope")
        session.lineReceived("Bea")
        session.lineReceived("correct-horse")
        self.assertEqual(lines.lines()[-1], "ERROR too many failed logins; try again in 2 s")

    def test_passwdAndUnregister(self):
        """
        The password can be changed with the old one; the account dropped
        with the password, after which the name is a guest's again.
        """
        self.bea.lineReceived("/passwd wrong-old new-password")
        self.bea.lineReceived("/passwd correct-horse new-password")
        self.bea.lineReceived("/unregister new-password")
        self.assertEqual(self.beaLines.lines(), [
            "ERROR wrong password; nothing changed", "OK /passwd",
            "INFO Bea is no longer an account", "OK /unregister"])
        self.bea.lineReceived("/quit")
        _, lines = self.chat.connect("Bea")
        self.assertEqual(lines.lines()[0], GREETING.format("Bea"))

    def test_whois(self):
        """
        /whois tells account or guest, online or not; never the address.
        """
        _, ann = self.chat.connect("Ann", "/whois bea", "/whois Ann", "/whois nobody")
        self.assertEqual(ann.lines()[-5:], [
            "INFO Bea is an account, registered 2026-11-27; online, idle 0 s, with you in #lobby",
            "OK /whois",
            "INFO Ann is a guest; online, idle 0 s, with you in #lobby",
            "OK /whois",
            "ERROR no one called nobody is online or registered"])

    def test_certificateLogin(self):
        """
        A certificate bound with /cert add logs in to the account with no
        password and no CA; /cert list and /cert del manage them.
        """
        certificate = clientCertificate(self.mktemp(), "whatever")
        session, lines = self.chat.connect("Bea", certificate=certificate)
        self.assertEqual(lines.lines(), ["ERROR the name Bea is taken, choose another"])
        session.lineReceived("Bea2")
        lines.lines()
        self.beaLines.lines()
        self.bea.lineReceived("/cert add zz")
        self.assertEqual(self.beaLines.lines(), [
            "ERROR a certificate fingerprint is 64 hex digits (SHA256:AB:CD:...)"])
        self.bea.lineReceived("/cert add " + certificate.digest("sha256").decode())
        self.bea.lineReceived("/cert list")
        self.bea.lineReceived("/quit")
        self.assertEqual(self.beaLines.lines()[:3], [
            "OK /cert", "INFO certificate SHA256:" + certificate.digest("sha256").decode()
            .replace(":", ""), "OK /cert"])
        _, lines = self.chat.connect("anything", certificate=certificate)
        self.assertEqual(lines.lines()[:2], [GREETING.format("Bea"), "NICK anything Bea"])


class RequiredTests(SynchronousTestCase):
    def test_noGuests(self):
        """
        With --accounts required a name that is not an account is asked for
        a password too, and refused like a wrong one.
        """
        chat = Chat(guests=False)
        session, lines = chat.connect("John", "whatever1")
        self.assertEqual(lines.lines(), ["AUTH John", "ERROR wrong password; give your name again"])


class CertificateNameTests(SynchronousTestCase):
    def test_nameKeptOnEveryPort(self):
        """
        With --client-ca, a certificate's name becomes its holder's the
        first time it logs in: a guest using it is put out, and nobody can
        take it later on a port without certificates, with any password.
        """
        from globalchat.chat.admission import Admission
        from globalchat.identity.portal import Identity
        from tests.chatfakes import GENEROUS

        chat = Chat()
        chat.admission = Admission(chat.hub, Identity.forServer(
            chat.hub, clientCertificates=True, accounts=chat.hub.accounts, clock=chat.clock),
            GENEROUS, chat.clock)
        guest, guestLines = chat.connect("alice")
        guestLines.lines()
        certificate = clientCertificate(self.mktemp(), "alice")
        _, alice = chat.connect("whoever", certificate=certificate)
        self.assertEqual(alice.lines()[:2], [GREETING.format("alice"), "NICK whoever alice"])
        self.assertEqual(guestLines.lines()[0],
                         "ERROR alice is an account, and its owner has just logged in")
        self.assertTrue(guestLines.closed)
        chat.hub.bus.holder("alice").lineReceived("/quit")
        mallory, lines = chat.connect("alice", host="198.51.100.66")
        mallory.lineReceived("anything-at-all")
        self.assertEqual(lines.lines(), ["AUTH alice", "ERROR wrong password; give your name again"])
