"""
Tests for the limits the server enforces per connection and per address
(L{globalchat.server} with L{globalchat.policy}), with a L{Clock} and
L{StringTransport}: no sleeping, no sockets.
"""

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.policy import Limits, parseNetwork
from globalchat.server import ChatFactory
from tests.chatfakes import TurnTransport


class LimitsTests(SynchronousTestCase):
    """
    Each rule, as a client would notice it.
    """

    def setUp(self):
        self.clock = Clock()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def factory(self, **limits):
        admission = Admission(Hub(), limits=Limits(**limits), clock=self.clock)
        admission.startService()
        self.addCleanup(admission.stopService)
        return ChatFactory(admission)

    def connect(self, factory, host="198.51.100.7", port=40000):
        address = IPv4Address("TCP", host, port)
        protocol = factory.buildProtocol(address)
        if protocol is None:
            return None, None
        transport = TurnTransport(self.clock, peerAddress=address)
        protocol.makeConnection(transport)
        return protocol, transport

    def security(self, kind):
        return [e for e in self.events if e.get("security") == kind]

    def test_denied(self):
        """
        A denied address gets no protocol (closed before a byte is read),
        and the refusal is a structured event.
        """
        factory = self.factory(deny=parseNetwork("198.51.100.0/24"))
        self.assertEqual(self.connect(factory), (None, None))
        self.assertEqual(len(self.security("refused")), 1)
        self.assertIsNotNone(self.connect(factory, host="203.0.113.9")[0])

    def test_refusalsLoggedSparingly(self):
        """
        An address refused again and again is logged once a minute, with
        how many refusals the log left out.
        """
        factory = self.factory(deny=parseNetwork("198.51.100.0/24"))
        for _ in range(50):
            self.connect(factory)
        self.assertEqual(len(self.security("refused")), 1)
        self.clock.advance(60)
        self.connect(factory)
        refused = self.security("refused")
        self.assertEqual(len(refused), 2)
        self.assertEqual(refused[1]["more"], " (49 more not logged)")

    def test_allowList(self):
        """
        With an allow list, other addresses are refused.
        """
        factory = self.factory(allow=parseNetwork("10.0.0.0/8"))
        self.assertIsNone(self.connect(factory)[0])
        self.assertIsNotNone(self.connect(factory, host="10.1.1.1")[0])

    def test_maxPerIP(self):
        """
        A connection over the per-address limit gets one error line and is
        closed; others are not affected; a closed one frees its slot.
        """
        factory = self.factory(maxPerIP=2)
        first, _ = self.connect(factory)
        self.connect(factory)
        _, third = self.connect(factory)
        self.assertEqual(third.value(), b"ERROR too many connections from your address (max 2)\r\n")
        self.assertTrue(third.disconnecting)
        self.assertFalse(self.connect(factory, host="203.0.113.9")[1].disconnecting)
        first.connectionLost(Failure(ConnectionDone()))
        self.assertFalse(self.connect(factory)[1].disconnecting)

    def test_maxConnections(self):
        """
        Past the total limit the server says it is full.
        """
        factory = self.factory(maxConnections=1)
        self.connect(factory)
        _, second = self.connect(factory, host="203.0.113.9")
        self.assertEqual(second.value(), b"ERROR server full: at most 1 connections at once\r\n")

    def test_rateLimitThenCutOff(self):
        """
        Lines over the rate are dropped with one error; a client that goes
        on flooding is cut off; others keep chatting meanwhile.
        """
        factory = self.factory(rate=1, burst=3, floodLimit=5)
        flooder, ft = self.connect(factory)
        other, ot = self.connect(factory, host="203.0.113.9")
        flooder.dataReceived(b"Flo\n")
        other.dataReceived(b"Ann\n")
        ft.clear()
        ot.clear()
        flooder.dataReceived(b"a\nb\nc\n")
        self.assertEqual(ft.value().count(b"MSG #lobby <Flo>"), 2)
        self.assertIn(b"ERROR too many lines, slow down (at most 1 a second)", ft.value())
        self.assertFalse(ft.disconnecting)
        self.clock.advance(1)
        other.dataReceived(b"still talking\n")
        self.assertIn(b"MSG #lobby <Ann> still talking", ot.value())
        flooder.dataReceived(b"x\n" * 10)
        self.assertIn(b"ERROR flooding: disconnected", ft.value())
        self.assertTrue(ft.disconnecting)
        self.assertEqual(len(self.security("flood")), 1)

    def test_repeatedAbuseBans(self):
        """
        An address cut off three times within the window is refused for
        the ban time.
        """
        factory = self.factory(rate=1, burst=1, floodLimit=1, banTime=600)
        for attempt in range(3):
            protocol, transport = self.connect(factory)
            protocol.dataReceived(b"x\ny\nz\n")
            self.assertTrue(transport.disconnecting)
            protocol.connectionLost(Failure(ConnectionDone()))
        self.assertIsNone(self.connect(factory)[0])
        self.clock.advance(600)
        self.assertIsNotNone(self.connect(factory)[0])

    def test_banEndsEveryConnection(self):
        """
        The strike that bans an address ends every connection from it at
        once; guesses they already sent are not checked.
        """
        from twisted.internet.defer import maybeDeferred

        from globalchat.auth import hashPassword
        from globalchat.identity.checkers import ServerPasswordChecker
        from globalchat.identity.portal import Identity

        checked = []

        def check(verify, stored, password):
            checked.append(password)
            return maybeDeferred(verify, stored, password)

        factory = self.factory()
        factory.admission.identity = Identity.forServer(
            factory.admission.hub,
            password=ServerPasswordChecker(hashPassword("right", salt=b"s" * 16), defer=check))
        guessers = [self.connect(factory, port=40000 + n) for n in range(3)]
        bystander, bt = self.connect(factory, host="203.0.113.9")
        guessers[0][0].dataReceived(b"Ann\nguess1\nAnn\nguess2\nAnn\nguess3\nAnn\nguess4\n")
        self.assertEqual(checked, ["guess1", "guess2", "guess3"])
        for protocol, transport in guessers:
            self.assertTrue(transport.disconnecting)
            self.assertIn(b"ERROR banned for repeated abuse", transport.value())
            protocol.dataReceived(b"Ann\nguess5\n")
        self.assertEqual(len(checked), 3)
        self.assertFalse(bt.disconnecting)

    def test_overlongLinesCount(self):
        """
        Over-long lines count against the rate like any other: a client
        sending nothing else is cut off, and its log lines are few.
        """
        factory = self.factory(rate=1, burst=3, floodLimit=5)
        factory.maxLineLength = 16
        protocol, transport = self.connect(factory)
        protocol.dataReceived(b"Ann\n")
        protocol.dataReceived((b"x" * 40 + b"\n") * 1000)
        self.assertIn(b"ERROR flooding: disconnected", transport.value())
        self.assertLessEqual(transport.value().count(b"ERROR line too long"), 3)
        tooLong = [e for e in self.events if "line too long" in e.get("log_format", "")]
        self.assertLessEqual(len(tooLong), 3)

    def test_loginTimeout(self):
        """
        A connection that gives no name in time is told and closed; one
        that logged in is not.
        """
        factory = self.factory(loginTimeout=30)
        _, silent = self.connect(factory)
        talker, tt = self.connect(factory, host="203.0.113.9")
        talker.dataReceived(b"Ann\n")
        self.clock.advance(29)
        self.assertFalse(silent.disconnecting)
        self.clock.advance(1)
        self.assertEqual(silent.value(), b"ERROR no name given within 30 s\r\n")
        self.assertTrue(silent.disconnecting)
        self.assertFalse(tt.disconnecting)

    def test_idleTimeout(self):
        """
        With an idle timeout, a silent logged-in connection is closed.
        """
        factory = self.factory(idleTimeout=60)
        protocol, transport = self.connect(factory)
        protocol.dataReceived(b"Ann\n")
        self.clock.advance(59)
        protocol.dataReceived(b"/who\n")
        self.clock.advance(59)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def readerAndSender(self):
        """
        Slow and Fast logged in, with a send buffer of 1000 bytes and
        no rate limit to speak of.
        """
        factory = self.factory(maxSendBuffer=1000, rate=1000, burst=1000)
        reader, rt = self.connect(factory)
        sender, st = self.connect(factory, host="203.0.113.9")
        reader.dataReceived(b"Slow\n")
        sender.dataReceived(b"Fast\n")
        return reader, rt, sender, st

    def test_slowReaderDropped(self):
        """
        A client that stops reading is dropped once more than the send
        buffer has been waiting for it for a second; the others still get
        every line.
        """
        reader, rt, sender, st = self.readerAndSender()
        # The transport's buffer is full: it pauses its producer.
        reader.pauseProducing()
        for i in range(30):
            sender.dataReceived(b"x" * 50 + b"\n")
        self.assertFalse(rt.disconnecting)
        self.clock.advance(1)
        self.assertTrue(rt.disconnecting)
        self.assertEqual(len(self.security("slow-reader")), 1)
        self.assertEqual(st.value().count(b"MSG #lobby <Fast> " + b"x" * 50), 30)

    def test_slowReaderOwedTooMuch(self):
        """
        A client owed several times its send buffer is dropped at once.
        """
        reader, rt, sender, st = self.readerAndSender()
        reader.pauseProducing()
        sender.dataReceived((b"x" * 500 + b"\n") * 9)
        self.assertTrue(rt.disconnecting)

    def test_readerThatCatchesUp(self):
        """
        A client that reads again before the limit is not dropped.
        """
        reader, rt, sender, st = self.readerAndSender()
        for i in range(30):
            reader.pauseProducing()
            sender.dataReceived(b"x" * 50 + b"\n")
            reader.resumeProducing()
        self.assertFalse(rt.disconnecting)
