"""
Tests for L{globalchat.chat.hub} and L{globalchat.chat.commands}: whole
conversations of several users, with no network.
"""

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from twisted.internet.task import Clock

from globalchat.chat.admission import Admission
from globalchat.chat.bus import LocalBus
from globalchat.chat.hub import Hub
from globalchat.chat.connection import IConnection
from globalchat.identity.checkers import ServerPasswordChecker
from globalchat.identity.portal import Identity
from tests.chatfakes import GENEROUS, Recorder, Users, clientCertificate, connect

GREETING = "Hello Good morning !!!! ::: {}"


class Broken(Recorder):
    """
    A participant whose deliveries fail once it is logged in.
    """

    def write(self, data):
        if self._data:
            raise OSError("gone")
        super().write(data)


class LoginTests(SynchronousTestCase):
    """
    The first line: the name.
    """

    def setUp(self):
        self.hub = Hub()

    def test_recorderProvidesInterface(self):
        """
        The test double is a real L{IConnection}.
        """
        verifyObject(IConnection, Recorder())

    def test_greetingThenLobby(self):
        """
        The name is answered with the seed's exact greeting, then the user
        is in the lobby.
        """
        john = Recorder()
        connect(self.hub, john).lineReceived("John")
        self.assertEqual(john.lines(), [GREETING.format("John"), "JOIN #lobby John"])
        self.assertEqual(self.hub.names, ["John"])

    def test_customGreetingRoomAndMotd(self):
        """
        The greeting template, the default room and the MOTD are the
        operator's.
        """
        hub = Hub(greeting="Welcome, {name}!", defaultRoom="hall", motd=["Be nice.", ""])
        john = Recorder()
        connect(hub, john).lineReceived("John")
        self.assertEqual(john.lines(), ["Welcome, John!", "INFO Be nice.", "INFO", "JOIN #hall John"])

    def test_invalidNames(self):
        """
        Invalid names get an error naming the rule, and the next line is
        tried as the name; the greeting only comes for an accepted one.
        """
        john = Recorder()
        session = connect(self.hub, john)
        for bad in ("John Smith", "x" * 33, "j@hn", "/nick", "Jo\x07hn"):
            session.lineReceived(bad)
        session.lineReceived("Zoë_2.0-x")
        lines = john.lines()
        self.assertEqual(len(lines), 7)
        self.assertTrue(all(line.startswith("ERROR ") for line in lines[:5]))
        self.assertIn("use 1-32 letters, digits", lines[0])
        self.assertEqual(lines[5], GREETING.format("Zoë_2.0-x"))

    def test_takenCaseInsensitively(self):
        """
        A name in use, in any case or compatibility form, is taken.
        """
        users = Users(self.hub)
        users.login("John")
        other = Recorder()
        session = connect(self.hub, other)
        for taken in ("john", "JOHN", "Ｊｏｈｎ"):
            session.lineReceived(taken)
        self.assertEqual(other.lines(), ["ERROR the name john is taken, choose another",
                                         "ERROR the name JOHN is taken, choose another",
                                         "ERROR the name Ｊｏｈｎ is taken, choose another"])

    def test_nameFreedOnQuit(self):
        """
        A name is free again once its holder has gone.
        """
        users = Users(self.hub)
        users.login("John")
        users.sessions["John"].disconnected()
        again = Recorder()
        connect(self.hub, again).lineReceived("JOHN")
        self.assertEqual(again.lines()[0], GREETING.format("JOHN"))


class ConversationTests(SynchronousTestCase):
    """
    Three users chatting in rooms.
    """

    def setUp(self):
        self.hub = Hub()
        self.users = Users(self.hub)
        self.users.login("Ann", "Bob", "Cy")

    def test_joinSeenByOthers(self):
        """
        Those in the lobby see a newcomer join.
        """
        dee = Recorder()
        connect(self.hub, dee).lineReceived("Dee")
        for name in ("Ann", "Bob", "Cy"):
            self.assertEqual(self.users.lines(name), ["JOIN #lobby Dee"])

    def test_messageToRoomSameBytes(self):
        """
        A plain line goes to everybody in the room, sender included, as the
        very same bytes object.
        """
        self.users.say("Bob", "hi all")
        received = [self.users.recorders[n].data for n in ("Ann", "Bob", "Cy")]
        self.assertEqual(received[0], [b"MSG #lobby <Bob> hi all\r\n"])
        self.assertIs(received[0][0], received[1][0])
        self.assertIs(received[0][0], received[2][0])

    def test_rooms(self):
        """
        Lines go only to the current room; a user in two rooms chooses with
        /join; members see joins and parts.
        """
        self.users.say("Ann", "/join dev")
        self.assertEqual(self.users.lines("Ann"), ["JOIN #dev Ann", "OK /join"])
        self.users.say("Bob", "/join #dev")
        self.assertEqual(self.users.lines("Ann"), ["JOIN #dev Bob"])
        self.users.clear()
        self.users.say("Ann", "code talk")
        self.assertEqual(self.users.lines("Bob"), ["MSG #dev <Ann> code talk"])
        self.assertEqual(self.users.lines("Cy"), [])
        self.users.say("Ann", "/join lobby")
        self.users.say("Ann", "back")
        self.assertEqual(self.users.lines("Cy"), ["MSG #lobby <Ann> back"])
        self.users.clear()
        self.users.say("Bob", "/part dev see you")
        self.assertEqual(self.users.lines("Ann")[-1], "PART #dev Bob see you")
        self.assertEqual(self.users.lines("Bob"), ["PART #dev Bob see you", "OK /part"])

    def test_partCurrentFallsBack(self):
        """
        After leaving the current room, lines go to the room joined last;
        with no room left, a line is refused with the fix.
        """
        self.users.say("Ann", "/join dev")
        self.users.say("Ann", "/part")
        self.users.say("Ann", "hello lobby")
        self.assertIn("MSG #lobby <Ann> hello lobby", self.users.lines("Cy"))
        self.users.say("Ann", "/part #lobby")
        self.users.clear()
        self.users.say("Ann", "anyone?")
        self.assertEqual(self.users.lines("Ann"), ["ERROR you are in no room: /join ROOM first"])
        self.assertEqual(self.users.lines("Bob"), [])

    def test_emptyRoomForgotten(self):
        """
        A room disappears with its last member; /rooms lists the others
        with counts and topics.
        """
        self.users.say("Ann", "/join dev")
        self.users.say("Ann", "/topic all things code")
        self.users.say("Cy", "/join tmp")
        self.users.say("Cy", "/part tmp")
        self.users.clear()
        self.users.say("Bob", "/rooms")
        self.assertEqual(self.users.lines("Bob"),
                         ["ROOM #dev 1 all things code", "ROOM #lobby 3", "OK /rooms"])

    def test_who(self):
        """
        /who lists a room's members, in order of arrival.
        """
        self.users.say("Cy", "/who")
        self.assertEqual(self.users.lines("Cy"), ["WHO #lobby Ann Bob Cy", "OK /who"])
        self.users.say("Cy", "/who #nowhere")
        self.assertEqual(self.users.lines("Cy"), ["ERROR no room #nowhere: /join it to create it"])

    def test_private(self):
        """
        /msg reaches the recipient only; both see the same line, marked
        private; the recipient's name is found in any case.
        """
        self.users.say("Ann", "/msg bob  psst, over here ")
        self.assertEqual(self.users.lines("Bob"), ["PRIV <Ann> @Bob psst, over here"])
        self.assertEqual(self.users.lines("Ann"), ["PRIV <Ann> @Bob psst, over here"])
        self.assertEqual(self.users.lines("Cy"), [])
        self.users.say("Ann", "/msg Nobody hi")
        self.assertEqual(self.users.lines("Ann"), ["ERROR no user called Nobody is connected or has ever logged in here"])

    def test_me(self):
        """
        /me is an action in the current room.
        """
        self.users.say("Cy", "/me waves")
        self.assertEqual(self.users.lines("Ann"), ["ACT #lobby * Cy waves"])

    def test_nick(self):
        """
        /nick renames, seen once by everybody sharing a room; taken and
        invalid names are refused.
        """
        self.users.say("Ann", "/join dev")
        self.users.say("Bob", "/join dev")
        self.users.clear()
        self.users.say("Ann", "/nick Annie")
        self.assertEqual(self.users.lines("Bob"), ["NICK Ann Annie"])
        self.assertEqual(self.users.lines("Ann"), ["NICK Ann Annie", "OK /nick"])
        self.assertEqual(self.users.lines("Cy"), ["NICK Ann Annie"])
        self.users.say("Ann", "/nick bob")
        self.assertEqual(self.users.lines("Ann"), ["ERROR the name bob is taken, choose another"])
        self.users.say("Ann", "/nick annie")
        self.assertEqual(self.users.lines("Ann"), ["NICK Annie annie", "OK /nick"])
        self.users.clear()
        self.users.say("Bob", "/who")
        self.assertEqual(self.users.lines("Bob")[0], "WHO #dev annie Bob")

    def test_topic(self):
        """
        /topic shows or sets the current room's topic; joiners see it.
        """
        self.users.say("Ann", "/topic")
        self.assertEqual(self.users.lines("Ann"), ["INFO #lobby has no topic", "OK /topic"])
        self.users.say("Ann", "/topic weekend plans")
        self.assertEqual(self.users.lines("Bob"), ["TOPIC #lobby Ann weekend plans"])
        dee = Recorder()
        connect(self.hub, dee).lineReceived("Dee")
        self.assertEqual(dee.lines()[-1], "TOPIC #lobby - weekend plans")

    def test_quit(self):
        """
        /quit tells everybody who could see the user, once, with the
        reason, confirms and hangs up.
        """
        self.users.say("Bob", "/join dev")
        self.users.say("Ann", "/join dev")
        self.users.clear()
        self.users.say("Bob", "/quit off to bed")
        self.assertEqual(self.users.lines("Ann"), ["QUIT Bob off to bed"])
        self.assertEqual(self.users.lines("Cy"), ["QUIT Bob off to bed"])
        self.assertEqual(self.users.lines("Bob"), ["OK /quit"])
        self.assertTrue(self.users.recorders["Bob"].closed)
        self.users.sessions["Bob"].disconnected()
        self.assertEqual(self.users.lines("Ann"), [])
        self.assertEqual(self.hub.names, ["Ann", "Cy"])

    def test_disconnect(self):
        """
        A dropped connection is a quit with a reason.
        """
        self.users.sessions["Cy"].disconnected()
        self.assertEqual(self.users.lines("Ann"), ["QUIT Cy connection closed"])

    def test_slashes(self):
        """
        // sends a line starting with /; unknown commands and wrong
        arguments get the usage.
        """
        self.users.say("Ann", "//etc/passwd is a file")
        self.assertEqual(self.users.lines("Bob"), ["MSG #lobby <Ann> /etc/passwd is a file"])
        self.users.clear()
        for line, error in [
            ("/dance", "ERROR unknown command /dance: see /help"),
            ("/join", "ERROR usage: /join ROOM [KEY]"),
            ("/join a b c", "ERROR usage: /join ROOM [KEY]"),
            ("/join bad!room", "ERROR invalid room 'bad!room': use 1-32 letters, digits, '_', '-' or '.'"),
            ("/msg Bob", "ERROR usage: /msg NAME TEXT"),
            ("/me", "ERROR usage: /me ACTION"),
            ("/nick", "ERROR usage: /nick NEWNAME"),
            ("/rooms extra", "ERROR usage: /rooms"),
            ("/who a b", "ERROR usage: /who [ROOM]"),
            ("/part #dev", "ERROR no room #dev: /join it to create it"),
            ("/help dance", "ERROR unknown command /dance: see /help"),
        ]:
            self.users.say("Ann", line)
            self.assertEqual(self.users.lines("Ann"), [error])

    def test_help(self):
        """
        /help lists every command; /help CMD explains one.
        """
        self.users.say("Ann", "/help")
        lines = self.users.lines("Ann")
        self.assertEqual(lines[-1], "OK /help")
        for command in ("/join", "/part", "/rooms", "/who", "/msg", "/me", "/nick", "/topic",
                        "/quit", "/help"):
            self.assertTrue(any(line.startswith(f"INFO {command} ") for line in lines), command)
        self.users.say("Ann", "/help nick")
        self.assertEqual(self.users.lines("Ann"),
                         ["INFO /nick NEWNAME - change your name", "OK /help"])

    def test_controlCharactersRefused(self):
        """
        A line with a terminal escape sequence is refused and reaches
        nobody; a tab is fine.
        """
        self.users.say("Bob", "\x1b[2Jgotcha")
        self.assertEqual(self.users.lines("Bob"), ["ERROR control characters are not allowed"])
        self.assertEqual(self.users.lines("Ann"), [])
        self.users.say("Bob", "a\tb")
        self.assertEqual(self.users.lines("Ann"), ["MSG #lobby <Bob> a\tb"])

    def test_blankLinesIgnored(self):
        """
        Empty and white-space lines get no answer.
        """
        self.users.say("Ann", "   ")
        self.assertEqual(self.users.lines("Ann"), [])

    def test_brokenRecipientDoesNotStopOthers(self):
        """
        One recipient whose delivery fails does not keep the line from the
        others; the failure is logged.
        """
        ghost = Broken()
        connect(self.hub, ghost).lineReceived("Ghost")
        # Its greeting and JOIN go in one write, which works.
        self.assertEqual(len(ghost.data), 1)
        self.users.clear()
        self.users.say("Ann", "still here")
        ghost.clock.advance(0)
        self.assertEqual(self.users.lines("Cy"), ["MSG #lobby <Ann> still here"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class PasswordTests(SynchronousTestCase):
    """
    Logging in on a server with a password.
    """

    def setUp(self):
        self.failed = []
        self.checks = []
        self.hub = Hub()
        self.clock = Clock()
        self.admission = Admission(self.hub, limits=GENEROUS, clock=self.clock)
        self.admission.identity = Identity.forServer(
            self.hub, password=ServerPasswordChecker("unused", defer=self.check))
        self.admission.strike = self.failed.append
        self.events = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def check(self, verify, stored, password):
        from twisted.internet.defer import Deferred

        d = Deferred()
        self.checks.append((password, d))
        return d

    def test_rightPassword(self):
        """
        After the name the server asks for the password, and greets only
        once it is right; lines sent meanwhile are handled after, in order.
        """
        john = Recorder(clock=self.clock)
        session = self.admission.connect(john)
        session.lineReceived("John")
        self.assertEqual(john.lines(), ["AUTH John"])
        session.lineReceived("s3cret")
        session.lineReceived("hello")
        self.assertEqual(john.lines(), [])
        self.checks[0][1].callback(True)
        self.assertEqual(john.lines(), [GREETING.format("John"), "JOIN #lobby John",
                                        "MSG #lobby <John> hello"])
        self.assertEqual(self.checks[0][0], "s3cret")

    def test_wrongPassword(self):
        """
        A wrong password is an error, is reported for bans, is never
        logged, and the next line is the name again.
        """
        john = Recorder(clock=self.clock)
        session = self.admission.connect(john)
        session.lineReceived("John")
        session.lineReceived("guess")
        self.checks[0][1].callback(False)
        self.assertEqual(john.lines(), ["AUTH John", "ERROR wrong password; give your name again"])
        self.assertEqual(self.failed, [session])
        self.assertFalse(any("guess" in repr(e) for e in self.events))
        session.lineReceived("John")
        self.assertEqual(john.lines(), ["AUTH John"])
        self.assertEqual(self.hub.names, [])


    def test_checkFails(self):
        """
        A password check that fails (rather than finding the password
        wrong) is answered, is not a strike, and the next line is the name
        again.
        """
        john = Recorder(clock=self.clock)
        session = self.admission.connect(john)
        session.lineReceived("John")
        session.lineReceived("s3cret")
        self.checks[0][1].errback(RuntimeError("no threads left"))
        self.assertEqual(john.lines(), [
            "AUTH John",
            "ERROR your login cannot be checked right now; give your name again"])
        self.assertEqual(self.failed, [])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        session.lineReceived("John")
        self.assertEqual(john.lines(), ["AUTH John"])


class CertifiedNameTests(SynchronousTestCase):
    """
    On a server with --client-ca, the certificate names the user.
    """

    def test_certificateNameWins(self):
        """
        Whatever name is typed, the certificate's is used, and the client
        is told with a NICK line; it cannot be changed.
        """
        hub = Hub()
        alice = Recorder(certificate=clientCertificate(self.mktemp(), "alice"))
        session = connect(hub, alice, Identity.forServer(hub, clientCertificates=True))
        session.lineReceived("Mallory")
        self.assertEqual(alice.lines(), [GREETING.format("alice"), "NICK Mallory alice",
                                         "JOIN #lobby alice"])
        session.lineReceived("/nick bob")
        self.assertEqual(alice.lines(), ["ERROR your name comes from your certificate and cannot change"])
        self.assertEqual(hub.names, ["alice"])


class AnnounceLimitTests(SynchronousTestCase):
    """
    Big rooms do not announce every arrival and departure to everybody.
    """

    def test_bigRoomQuiet(self):
        """
        Above the limit, only the one who joins or leaves sees it.
        """
        users = Users(Hub(bus=LocalBus(announceLimit=2)))
        users.login("Ann", "Bob")
        carl = Recorder()
        session = connect(users.hub, carl)
        session.lineReceived("Carl")
        self.assertEqual(carl.lines()[1:], ["JOIN #lobby Carl"])
        session.lineReceived("/part")
        self.assertEqual(carl.lines(), ["PART #lobby Carl", "OK /part"])
        session.lineReceived("/join lobby")
        session.lineReceived("/quit")
        self.assertEqual(users.lines("Ann") + users.lines("Bob"), [])
        users.say("Bob", "/part")
        self.assertEqual(users.lines("Ann"), ["PART #lobby Bob"])


class DisplayTrickTests(SynchronousTestCase):
    """
    Text that would change how other people's screens read.
    """

    def setUp(self):
        self.users = Users(Hub())
        self.users.login("alice", "Bob")

    def test_lookalikeNames(self):
        """
        A name that only looks like an online one (a Cyrillic a, a capital
        I for an l, a zero for an o) is refused, to log in and to rename;
        once that user is gone, the name may be taken.
        """
        for name in ("аlice", "aIice", "ALICE"):
            mallory = Recorder()
            connect(self.users.hub, mallory).lineReceived(name)
            self.assertIn(mallory.lines()[0], [
                f"ERROR the name {name} looks like alice, who is online; choose another",
                f"ERROR the name {name} is taken, choose another"])
        self.users.say("Bob", "/nick B0b")
        self.assertEqual(self.users.lines("Bob"), ["NICK Bob B0b", "OK /nick"])
        self.users.say("Bob", "/nick аlice")
        self.assertEqual(self.users.lines("Bob"),
                         ["ERROR the name аlice looks like alice, who is online; choose another"])
        self.users.say("alice", "/quit")
        self.users.say("Bob", "/nick аlice")
        self.assertEqual(self.users.lines("Bob")[-1], "OK /nick")

    def test_separators(self):
        """
        Unicode's line and paragraph separators are refused like control
        characters.
        """
        for separator in ("\u2028", "\u2029"):
            self.users.say("Bob", f"one{separator}two")
            self.assertEqual(self.users.lines("Bob"), ["ERROR control characters are not allowed"])

    def test_bidiInTopic(self):
        """
        A topic may not hold bidirectional formatting characters.
        """
        self.users.say("Bob", "/topic \u202egnp.exe")
        self.assertEqual(self.users.lines("Bob"),
                         ["ERROR a topic may not contain bidirectional formatting characters"])

    def test_bidiInMessageBalanced(self):
        """
        A message's bidirectional formatting is closed at its end, and a
        stray closer is dropped, so it cannot reorder what follows it.
        """
        self.users.say("Bob", "abc\u202edef")
        self.users.say("Bob", "x\u2069y\u2067z")
        self.assertEqual(self.users.lines("alice"), [
            "MSG #lobby <Bob> abc\u202edef\u202c", "MSG #lobby <Bob> xy\u2067z\u2069"])


class BudgetTests(SynchronousTestCase):
    """
    What one client can make the server hold is bounded.
    """

    def test_roomsPerUser(self):
        """
        A user in the most rooms allowed must leave one to join another;
        joining a room it is in still works.
        """
        users = Users(Hub(roomsPerUser=2))
        users.login("Ann")
        users.say("Ann", "/join tea")
        users.say("Ann", "/join coffee")
        self.assertEqual(users.lines("Ann")[-3:], [
            "JOIN #tea Ann", "OK /join", "ERROR you are in 2 rooms, the most: /part one first"])
        users.say("Ann", "/join lobby")
        self.assertEqual(users.lines("Ann"), ["OK /join"])

    def test_maxRooms(self):
        """
        No new room is made past the server's most; existing ones can
        still be joined.
        """
        users = Users(Hub(maxRooms=2))
        users.login("Ann", "Bob")
        users.say("Ann", "/join tea")
        users.say("Bob", "/join coffee")
        self.assertEqual(users.lines("Bob")[-1],
                         "ERROR this server has 2 rooms, its most: join one of them (/rooms)")
        users.say("Bob", "/join tea")
        self.assertEqual(users.lines("Bob")[-1], "OK /join")
