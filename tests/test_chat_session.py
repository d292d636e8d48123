"""
Tests for L{globalchat.chat.session}: the rules of a connection, through
a transport that carries lines in memory (L{tests.memorylines}), so that
nothing here depends on TCP.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from globalchat.chat.admission import Admission
from globalchat.chat.connection import IConnection
from globalchat.chat.hub import Hub
from globalchat.policy import Limits
from globalchat.server import ChatProtocol
from tests.memorylines import LinesInMemory

GREETING = "Hello Good morning !!!! ::: {}"


class SessionTests(SynchronousTestCase):
    """
    One hub, clients on the in-memory transport.
    """

    def setUp(self):
        self.clock = Clock()

    def admission(self, **limits):
        admission = Admission(Hub(), limits=Limits(**limits), clock=self.clock)
        admission.startService()
        self.addCleanup(admission.stopService)
        return admission

    def owed(self):
        """
        A reader that stopped reading and is owed more than its send
        buffer (100 bytes), and the talker who sent it that.
        """
        admission = self.admission(maxSendBuffer=100, slowGrace=1.0)
        reader, talker = LinesInMemory(admission), LinesInMemory(admission, host="192.0.2.2")
        reader.type("Reader")
        talker.type("Talker")
        reader.stopReading()
        talker.type("x" * 150)
        return reader, talker

    def test_transportsProvideTheInterface(self):
        """
        The TCP protocol and the in-memory transport are both connections.
        """
        verifyObject(IConnection, LinesInMemory(self.admission()))
        verifyObject(IConnection, ChatProtocol())

    def test_chat(self):
        """
        Two clients on the in-memory transport log in and chat.
        """
        admission = self.admission()
        ann, bob = LinesInMemory(admission), LinesInMemory(admission, host="192.0.2.2")
        ann.type("Ann")
        bob.type("Bob")
        ann.type("hello")
        self.assertEqual(bob.read(), [GREETING.format("Bob"), "JOIN #lobby Bob",
                                      "MSG #lobby <Ann> hello"])
        self.assertEqual(ann.read()[-1], "MSG #lobby <Ann> hello")

    def test_blankName(self):
        """
        A blank or empty first line is an invalid name, answered as such.
        """
        client = LinesInMemory(self.admission())
        client.type("", "   ")
        self.assertEqual(client.read(), ["ERROR invalid name '': use 1-32 letters, digits, "
                                         "'_', '-' or '.'"] * 2)

    def test_invalidUTF8(self):
        """
        A line that is not UTF-8 is refused; the next one is handled.
        """
        client = LinesInMemory(self.admission())
        client.session.receive(b"\xff\xfe")
        client.type("Ann")
        self.assertEqual(client.read()[:2], ["ERROR invalid UTF-8, line dropped",
                                             GREETING.format("Ann")])

    def test_flood(self):
        """
        Lines over the rate are dropped with one error; a client that keeps
        on is cut off.
        """
        client = LinesInMemory(self.admission(rate=1, burst=2, floodLimit=3))
        client.type("Ann", "a", "b", "c", "d")
        lines = client.read()
        self.assertEqual(lines.count("ERROR too many lines, slow down (at most 1 a second); "
                                     "lines dropped"), 1)
        self.assertIsNone(client.closed)
        client.type("e", "f")
        self.assertEqual(client.read()[-1], "ERROR flooding: disconnected")
        self.assertEqual(client.closed, "closed")

    def test_loginTimeout(self):
        """
        A client that gives no name in time is told so and closed.
        """
        client = LinesInMemory(self.admission(loginTimeout=5))
        self.clock.advance(4)
        self.assertIsNone(client.closed)
        self.clock.advance(1)
        self.assertEqual(client.read(), ["ERROR no name given within 5 s"])
        self.assertEqual(client.closed, "closed")

    def test_slowReader(self):
        """
        A client that stops reading is dropped once it is owed more than
        the send buffer for longer than the grace time.
        """
        reader, talker = self.owed()
        self.assertIsNone(reader.closed)
        self.clock.advance(1)
        self.assertEqual(reader.closed, "aborted")
        self.assertIsNone(talker.closed)

    def test_readerThatCatchesUp(self):
        """
        A client that reads again before the grace time is kept.
        """
        reader, _ = self.owed()
        reader.startReading()
        self.clock.advance(5)
        self.assertIsNone(reader.closed)

    def test_quitEndsConnection(self):
        """
        /quit is answered, closes the connection, and the others are told.
        """
        admission = self.admission()
        ann, bob = LinesInMemory(admission), LinesInMemory(admission, host="192.0.2.2")
        ann.type("Ann")
        bob.type("Bob")
        bob.read()
        ann.type("/quit bye", "ignored")
        self.assertEqual(ann.read()[-1], "OK /quit")
        self.assertEqual(ann.closed, "closed")
        self.assertEqual(bob.read(), ["QUIT Ann bye"])
        self.assertEqual(admission.hub.names, ["Bob"])
