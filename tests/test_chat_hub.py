"""
Tests for L{globalchat.chat.hub}: whole conversations, with no network.
"""

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from globalchat.chat.hub import Hub, IParticipant


@implementer(IParticipant)
class Recorder:
    """
    A participant that keeps what it is sent, as text lines.
    """

    def __init__(self, peer="127.0.0.1:1"):
        self.peer = peer
        self.data = []

    def send(self, data):
        self.data.append(data)

    def lines(self):
        """
        Everything received so far as text lines, then forget it.
        """
        text = b"".join(self.data).decode("utf-8")
        self.data.clear()
        return text.splitlines()


class Broken(Recorder):
    """
    A participant whose deliveries fail once it is logged in.
    """

    def send(self, data):
        if self.data:
            raise OSError("gone")
        super().send(data)


class HubTests(SynchronousTestCase):
    """
    A conversation of several users against L{Hub}.
    """

    def setUp(self):
        self.hub = Hub()

    def login(self, name):
        participant = Recorder()
        session = self.hub.connect(participant)
        session.lineReceived(name)
        return participant, session

    def test_recorderProvidesInterface(self):
        """
        The test double is a real L{IParticipant}.
        """
        verifyObject(IParticipant, Recorder())

    def test_greeting(self):
        """
        The first line is the name, answered with the seed's exact greeting.
        """
        john, _ = self.login("John")
        self.assertEqual(john.lines(), ["Hello Good morning !!!! ::: John"])
        self.assertEqual(self.hub.names, ["John"])

    def test_customGreeting(self):
        """
        The greeting template's C{{name}} is replaced by the name.
        """
        self.hub.greeting = "Welcome, {name}!"
        john, _ = self.login("John")
        self.assertEqual(john.lines(), ["Welcome, John!"])

    def test_nameIsStripped(self):
        """
        White space around the name is not part of it.
        """
        john, _ = self.login("  John \t")
        self.assertEqual(john.lines(), ["Hello Good morning !!!! ::: John"])

    def test_joinedAndLeft(self):
        """
        Those already logged in see a newcomer join and leave; the newcomer
        does not see its own arrival.
        """
        ann, _ = self.login("Ann")
        ann.lines()
        bob, bobSession = self.login("Bob")
        self.assertEqual(ann.lines(), ["* Bob joined"])
        self.assertEqual(bob.lines(), ["Hello Good morning !!!! ::: Bob"])
        bobSession.disconnected()
        self.assertEqual(ann.lines(), ["* Bob left"])
        self.assertEqual(self.hub.names, ["Ann"])

    def test_messageToEveryoneSenderIncluded(self):
        """
        A chat line reaches all three users, the sender's own copy being
        its confirmation; all get the very same bytes.
        """
        users = [self.login(name) for name in ("Ann", "Bob", "Cy")]
        for participant, _ in users:
            participant.lines()
        users[1][1].lineReceived("hi all")
        for participant, _ in users:
            self.assertEqual(participant.data, [b"<Bob> hi all\r\n"])
        self.assertIs(users[0][0].data[0], users[2][0].data[0])

    def test_blankLinesIgnored(self):
        """
        Empty and white-space lines get no answer, before or after login.
        """
        participant = Recorder()
        session = self.hub.connect(participant)
        session.lineReceived("")
        session.lineReceived("   ")
        self.assertEqual(participant.data, [])
        session.lineReceived("John")
        participant.lines()
        session.lineReceived(" ")
        self.assertEqual(participant.data, [])

    def test_controlCharactersRefused(self):
        """
        A line with a terminal escape sequence is refused with an error and
        reaches nobody; a tab is fine.
        """
        ann, _ = self.login("Ann")
        bob, bobSession = self.login("Bob")
        ann.lines()
        bob.lines()
        bobSession.lineReceived("\x1b[2Jgotcha")
        self.assertEqual(bob.lines(), ["ERROR control characters are not allowed"])
        self.assertEqual(ann.lines(), [])
        bobSession.lineReceived("a\tb")
        self.assertEqual(ann.lines(), ["<Bob> a\tb"])

    def test_controlCharacterInNameRefused(self):
        """
        A name with control characters is refused and the next line is
        taken as the name again.
        """
        participant = Recorder()
        session = self.hub.connect(participant)
        session.lineReceived("Jo\x07hn")
        session.lineReceived("John")
        self.assertEqual(
            participant.lines(),
            ["ERROR control characters are not allowed",
             "Hello Good morning !!!! ::: John"],
        )

    def test_disconnectBeforeName(self):
        """
        A client that leaves before giving a name leaves no trace.
        """
        ann, _ = self.login("Ann")
        ann.lines()
        session = self.hub.connect(Recorder())
        session.disconnected()
        self.assertEqual(ann.lines(), [])
        self.assertEqual(self.hub.names, ["Ann"])

    def test_brokenRecipientDoesNotStopOthers(self):
        """
        One recipient whose delivery fails does not keep the line from the
        others; the failure is logged.
        """
        self.hub.connect(Broken()).lineReceived("Ghost")
        ann, annSession = self.login("Ann")
        ann.lines()
        annSession.lineReceived("still here")
        self.assertEqual(ann.lines(), ["<Ann> still here"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 2)
