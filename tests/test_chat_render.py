"""
Tests for L{globalchat.chat.render}: each session is shown the chat's
events by its own protocol's renderer, built once per renderer.
"""

from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from globalchat.chat.admission import Admission
from globalchat.chat.render import PLAIN, TAGGED, IRender, LineRender, RunCache
from globalchat.chat.session import Session
from globalchat.store.interface import Message
from globalchat.policy import Limits
from tests.chatfakes import Chat, Recorder


@implementer(IRender)
class Shouting(LineRender):
    """
    Another protocol: the line protocol's lines in capitals, counting
    how often it was asked for each.
    """

    personal = False

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if name in IRender.names() and callable(attribute):
            def shout(*args):
                self.calls.append(name)
                return attribute(*args).upper()
            return shout
        return attribute


class ShoutingSession(Session):
    defaultRender = Shouting()


class LineRenderTests(SynchronousTestCase):
    def test_interface(self):
        """
        Both line renderers provide L{IRender}.
        """
        verifyObject(IRender, PLAIN)
        verifyObject(IRender, TAGGED)

    def test_ids(self):
        """
        A tagged client sees a message's id, and its own id for it only if
        it sent it; a plain client sees neither.
        """
        message = Message(0.0, "tea", "Ann", None, "msg", "hi", "c1", id=7)
        self.assertEqual(PLAIN.message(message, "tea", True), b"MSG #tea <Ann> hi\r\n")
        self.assertEqual(TAGGED.message(message, "tea", False),
                         b"@id=7 MSG #tea <Ann> hi\r\n")
        self.assertEqual(TAGGED.message(message, "tea", True),
                         b"@id=7;cid=c1 MSG #tea <Ann> hi\r\n")

    def test_kick(self):
        """
        The line protocol shows a kick as the room's PART, with who did it.
        """
        self.assertEqual(PLAIN.kicked("tea", "Bob", "Ann", "spam"),
                         b"PART #tea Bob kicked by Ann: spam\r\n")

    def test_runBuiltOnce(self):
        """
        A run is built once per renderer, however many members share it.
        """
        shouting = Shouting()
        run = RunCache([Message(0.0, "tea", "Ann", None, "msg", "hi", id=1)], "tea")
        first = run.block(shouting)
        self.assertIs(run.block(shouting), first)
        self.assertEqual(shouting.calls, ["message"])


class TwoProtocolsTests(SynchronousTestCase):
    """
    Sessions of two protocols in one room each see events their own way.
    """

    def setUp(self):
        self.chat = Chat()
        self.ann, self.annLines = self.chat.connect("Ann")
        self.bob, self.bobLines = self.connectShouting("Bob")
        self.annLines.lines()
        self.bobLines.lines()

    def connectShouting(self, name):
        recorder = Recorder(peer="198.51.100.9:4001", clock=self.chat.clock)
        session = self.chat.admission.connect(recorder, ShoutingSession)
        session.lineReceived(name)
        return session, recorder

    def test_greeting(self):
        """
        The greeting comes through the session's renderer.
        """
        _, cy = self.connectShouting("Cy")
        self.assertEqual(cy.lines()[0], "HELLO GOOD MORNING !!!! ::: CY")

    def test_message(self):
        """
        A message is shown to each member by its own renderer.
        """
        self.ann.lineReceived("hello")
        self.assertEqual(self.annLines.lines(), ["MSG #lobby <Ann> hello"])
        self.assertEqual(self.bobLines.lines(), ["MSG #LOBBY <ANN> HELLO"])

    def test_events(self):
        """
        Joins, topics, renames and quits reach the other protocol rendered
        by it.
        """
        self.ann.lineReceived("/topic tea time")
        self.ann.lineReceived("/nick Anna")
        self.chat.hub.quit(self.ann, "bye")
        self.assertEqual(self.bobLines.lines(),
                         ["TOPIC #LOBBY ANN TEA TIME", "NICK ANN ANNA", "QUIT ANNA BYE"])

    def test_private(self):
        """
        A private message is rendered by the recipient's protocol.
        """
        self.ann.lineReceived("/msg Bob psst")
        self.assertEqual(self.bobLines.lines(), ["PRIV <ANN> @BOB PSST"])

    def test_refusalOfTheProtocol(self):
        """
        A connection refused before it has a session is told so in the
        protocol it speaks.
        """
        admission = Admission(self.chat.hub, limits=Limits(maxConnections=0))
        recorder = Recorder()
        self.assertIsNone(admission.connect(recorder, ShoutingSession))
        self.assertEqual(recorder.lines(), ["ERROR SERVER FULL: AT MOST 0 CONNECTIONS AT ONCE"])
        self.assertTrue(recorder.closed)
