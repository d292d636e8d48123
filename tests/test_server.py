"""
Tests for L{globalchat.server}: framing, decoding and logging of one
connection, over L{StringTransport}.
"""

from hypothesis import given, settings, strategies as st
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.abstract import FileDescriptor
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactor
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.internet.error import ConnectionDone
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.server import ChatFactory, describePeer
from tests.chatfakes import TurnTransport


class ServerTests(SynchronousTestCase):
    """
    L{ChatProtocol} driven byte by byte.
    """

    def setUp(self):
        self.clock = Clock()
        self.factory = ChatFactory(Admission(Hub(), clock=self.clock), maxLineLength=16)

    def connect(self, port=40000):
        protocol = self.factory.buildProtocol(None)
        transport = TurnTransport(self.clock,
                                  peerAddress=IPv4Address("TCP", "198.51.100.7", port))
        protocol.makeConnection(transport)
        return protocol, transport

    def response(self, transport):
        """
        The lines written to C{transport} since the last call.
        """
        data = transport.value()
        transport.clear()
        self.assertTrue(data == b"" or data.endswith(b"\r\n"), data)
        return data.decode("utf-8").splitlines()

    def test_transportAttributesKnownEarly(self):
        """
        The attributes a Twisted transport would first set at its first
        write are set as soon as the connection is made: a transport made
        before another connection's first write then keeps its attributes
        without a dictionary of its own (see L{server._knownEarly}).
        """
        class Transport(FileDescriptor):
            def getPeer(self):
                return IPv4Address("TCP", "198.51.100.7", 40000)

        transport = Transport(reactor=MemoryReactor())
        self.factory.buildProtocol(None).makeConnection(transport)
        self.assertTrue({"dataBuffer", "offset"} <= set(vars(transport)))

    def test_greetingCRLFAndLF(self):
        """
        A name ended by CRLF or by LF gets the greeting.
        """
        for ending in (b"\r\n", b"\n"):
            protocol, transport = self.connect()
            protocol.dataReceived(b"John" + ending)
            self.assertEqual(self.response(transport)[0], "Hello Good morning !!!! ::: John")
            protocol.connectionLost(Failure(ConnectionDone()))

    def test_lineSplitAcrossReads(self):
        """
        A line that arrives in pieces is one line.
        """
        protocol, transport = self.connect()
        for byte in b"John\r\n":
            protocol.dataReceived(bytes([byte]))
        self.assertEqual(self.response(transport)[0], "Hello Good morning !!!! ::: John")

    def test_chatBetweenTwo(self):
        """
        Two connections chat: each line reaches both, in order.
        """
        a, at = self.connect()
        b, bt = self.connect()
        a.dataReceived(b"Ann\n")
        b.dataReceived(b"Bob\n")
        a.dataReceived(b"one\ntwo\n")
        self.assertEqual(
            self.response(at),
            ["Hello Good morning !!!! ::: Ann", "JOIN #lobby Ann", "JOIN #lobby Bob",
             "MSG #lobby <Ann> one", "MSG #lobby <Ann> two"],
        )
        self.assertEqual(
            self.response(bt), ["Hello Good morning !!!! ::: Bob", "JOIN #lobby Bob",
                                "MSG #lobby <Ann> one", "MSG #lobby <Ann> two"]
        )

    def test_lineTooLongDropsOnlyThatLine(self):
        """
        A line over the limit is answered with an error and dropped; the
        lines before and after it in the same read are kept, and the
        connection stays open.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"John\n")
        transport.clear()
        protocol.dataReceived(b"before\n" + b"x" * 17 + b"\nafter\n")
        self.assertEqual(
            self.response(transport),
            ["MSG #lobby <John> before", "ERROR line too long (max 16 bytes)",
             "MSG #lobby <John> after"],
        )
        self.assertFalse(transport.disconnecting)

    def test_exactlyMaxLengthAccepted(self):
        """
        A line of exactly the limit (not counting CRLF) is fine.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"John\n")
        transport.clear()
        protocol.dataReceived(b"y" * 16 + b"\r")
        protocol.dataReceived(b"\n")
        self.assertEqual(self.response(transport), ["MSG #lobby <John> " + "y" * 16])

    def test_lineTooLongAcrossReads(self):
        """
        An over-long line still arriving is reported once, as soon as it
        passes the limit, and its rest is dropped when it comes; the server
        does not buffer it.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"John\n")
        transport.clear()
        protocol.dataReceived(b"z" * 20)
        self.assertEqual(self.response(transport), ["ERROR line too long (max 16 bytes)"])
        self.assertEqual(protocol._pending, b"")
        protocol.dataReceived(b"z" * 1000)
        protocol.dataReceived(b"zzz\nnext\n")
        self.assertEqual(self.response(transport), ["MSG #lobby <John> next"])

    def test_invalidUTF8(self):
        """
        A line that is not UTF-8 gets an error; the connection carries on.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(b"\xff\xfe\nJohn\n")
        self.assertEqual(
            self.response(transport),
            ["ERROR invalid UTF-8, line dropped", "Hello Good morning !!!! ::: John",
             "JOIN #lobby John"],
        )

    def test_unicodeName(self):
        """
        UTF-8 text round-trips.
        """
        protocol, transport = self.connect()
        protocol.dataReceived("Zoë\n".encode("utf-8"))
        self.assertEqual(self.response(transport)[0], "Hello Good morning !!!! ::: Zoë")

    def test_quitClosesAfterAnswer(self):
        """
        /quit is confirmed, the connection closes, and lines after it in
        the same read are not acted on.
        """
        a, at = self.connect()
        b, bt = self.connect()
        a.dataReceived(b"Ann\n")
        b.dataReceived(b"Bob\n")
        at.clear()
        bt.clear()
        b.dataReceived(b"/quit bye\nlate\n")
        self.assertEqual(self.response(bt), ["OK /quit"])
        self.assertTrue(bt.disconnecting)
        self.assertEqual(self.response(at), ["QUIT Bob bye"])

    def test_binaryGarbage(self):
        """
        Arbitrary bytes never raise out of the protocol.
        """
        protocol, transport = self.connect()
        protocol.dataReceived(bytes(range(256)) * 3 + b"\n\x00\n\r\r\n")
        self.assertFalse(transport.disconnecting)

    def test_disconnectLeaves(self):
        """
        When a client's connection ends the others see it leave.
        """
        a, at = self.connect()
        b, bt = self.connect()
        a.dataReceived(b"Ann\n")
        b.dataReceived(b"Bob\n")
        at.clear()
        b.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.response(at), ["QUIT Bob connection closed"])

    def test_logging(self):
        """
        Connection, name and disconnection are logged with the peer address.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        protocol, _ = self.connect(port=4242)
        protocol.dataReceived(b"John\n")
        protocol.connectionLost(Failure(ConnectionDone()))
        texts = [e["log_format"].format(**e) for e in events if "peer" in e]
        self.assertEqual(texts[0], "198.51.100.7:4242 connected")
        self.assertEqual(texts[1], "198.51.100.7:4242 logged in as John")
        self.assertTrue(texts[2].startswith("198.51.100.7:4242 disconnected"))


class DescribePeerTests(SynchronousTestCase):
    """
    L{describePeer} formats addresses for logs.
    """

    def test_ipv4(self):
        """
        IPv4 is host:port.
        """
        self.assertEqual(describePeer(IPv4Address("TCP", "10.0.0.1", 5)), "10.0.0.1:5")

    def test_ipv6(self):
        """
        IPv6 hosts are bracketed.
        """
        self.assertEqual(describePeer(IPv6Address("TCP", "::1", 5)), "[::1]:5")

    def test_unix(self):
        """
        Other addresses fall back to their repr.
        """
        self.assertIn("chat.sock", describePeer(UNIXAddress("/run/chat.sock")))


class ProbeRequestTests(SynchronousTestCase):
    """
    C{/probe} as a first line, with and without C{--probe-helper}.
    """

    def connect(self, probes):
        protocol = ChatFactory(Admission(Hub()), probes=probes).buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "198.51.100.7", 4000))
        protocol.makeConnection(transport)
        return protocol, transport

    def test_answeredAndClosed(self):
        """
        A probe helper answers the requester's own address, then hangs up.
        """
        asked = []

        class Probes:
            async def answer(self, requester, request):
                asked.append((requester, request))
                return "PROBE OK hi"

        protocol, transport = self.connect(Probes())
        protocol.dataReceived(b"/probe 12345\r\n")
        self.assertEqual(asked, [("198.51.100.7", "/probe 12345")])
        self.assertEqual(transport.value(), b"PROBE OK hi\r\n")
        self.assertTrue(transport.disconnecting)

    def test_notOffered(self):
        """
        Without C{--probe-helper} the line is an ordinary first line.
        """
        protocol, transport = self.connect(None)
        protocol.dataReceived(b"/probe 12345\r\n")
        self.assertFalse(transport.disconnecting)
        self.assertNotIn(b"PROBE", transport.value())

    def test_onlyFirstLine(self):
        """
        After the first line, C{/probe} is not a probe request.
        """
        class Probes:
            async def answer(self, requester, request):
                raise AssertionError("not a probe")

        protocol, transport = self.connect(Probes())
        protocol.dataReceived(b"John\n/probe 1\n")
        self.assertFalse(transport.disconnecting)


class FuzzTests(SynchronousTestCase):
    """
    Random bytes into the line and command parser.
    """

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.binary(max_size=64) | st.sampled_from(
        [b"\n", b"\r\n", b"/join x\n", b"/nick \xff\n", b"/msg a b\n", b"/part\n", b"/quit\n",
         b"//\n", b"/\n", b"/who #\n", b"/topic \x1b\n"]), max_size=40))
    def test_neverRaises(self, chunks):
        """
        Whatever bytes arrive, in whatever pieces, nothing raises out of
        the protocol, and every line it writes is a whole CRLF line.
        """
        hub = Hub()
        protocols = []
        for peer in range(2):
            protocol = ChatFactory(Admission(hub), maxLineLength=32).buildProtocol(None)
            transport = StringTransport(peerAddress=IPv4Address("TCP", "198.51.100.7", peer))
            protocol.makeConnection(transport)
            protocols.append((protocol, transport))
        protocols[1][0].dataReceived(b"Watcher\n")
        for i, chunk in enumerate(chunks):
            protocols[0][0].dataReceived(chunk)
        for protocol, transport in protocols:
            self.assertTrue(transport.value() == b"" or transport.value().endswith(b"\r\n"))
            protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(hub.names, [])
