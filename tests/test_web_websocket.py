"""
Tests for L{globalchat.web.websocket}: a browser's WebSocket in memory,
beside a client of another transport, under the same rules.
"""

from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.policy import Limits, parseNetwork
from globalchat.store.memory import MemoryStore
from globalchat.web.gate import Gate
from globalchat.web.site import ChatSite
from globalchat.web.websocket import CLOSE_GRACE
from tests.memorylines import LinesInMemory
from tests.webclient import ACCEPT, BINARY, CLOSE, Browser, frames


class WebSocketTests(SynchronousTestCase):
    """
    What a browser and the others notice.
    """

    def setUp(self):
        self.clock = Clock()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)
        self.site = self.makeSite()

    def makeSite(self, gate=None, maxLineLength=64, **limits):
        self.admission = Admission(Hub(), limits=Limits(**limits), clock=self.clock)
        self.admission.startService()
        self.addCleanup(self.admission.stopService)
        return ChatSite(self.admission, MemoryStore(), gate or Gate(), self.clock, maxLineLength)

    def security(self, kind):
        return [e for e in self.events if e.get("security") == kind]

    def loggedIn(self, name="Ann", **connection):
        browser = Browser(self.site, clock=self.clock, **connection)
        answer = browser.open()
        self.assertTrue(answer.startswith(b"HTTP/1.1 101 "), answer)
        browser.type(name)
        self.assertEqual(browser.lines()[0], f"Hello Good morning !!!! ::: {name}")
        return browser

    def test_handshake(self):
        """
        A page of the server itself opens a WebSocket (no subprotocol);
        its first line is the name, answered one line per text frame.
        """
        browser = Browser(self.site, clock=self.clock)
        answer = browser.open()
        self.assertTrue(answer.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), answer)
        self.assertIn(b"Sec-WebSocket-Accept: " + ACCEPT, answer)
        self.assertNotIn(b"Sec-WebSocket-Protocol", answer)
        browser.type("Ann")
        self.assertEqual(browser.lines(), ["Hello Good morning !!!! ::: Ann", "JOIN #lobby Ann"])

    def test_foreignOrigin(self):
        """
        A page of another site cannot open a chat: 403, no session, and a
        security event.
        """
        browser = Browser(self.site, clock=self.clock)
        answer = browser.open(origin="https://evil.example")
        self.assertTrue(answer.startswith(b"HTTP/1.1 403 "), answer)
        self.assertEqual(len(self.security("bad-origin")), 1)
        self.assertEqual(self.admission._sessions, set())

    def test_otherOrigins(self):
        """
        A page of an origin given with --web-origin may connect; so may a
        program that is no browser (it sends no Origin); the server's own
        origin over TLS is https.
        """
        self.site = self.makeSite(Gate(origins=["https://friends.example"]))
        for origin in ("https://friends.example", None):
            self.assertTrue(Browser(self.site, clock=self.clock).open(origin).startswith(b"HTTP/1.1 101 "))
        self.assertTrue(Browser(self.site, clock=self.clock).open("https://chat.example:8080")
                        .startswith(b"HTTP/1.1 403 "))

    def test_linesBothWays(self):
        """
        A browser user and a user of another transport chat in one room;
        lines arrive without line endings, one per frame.
        """
        ann = self.loggedIn()
        bob = LinesInMemory(self.admission)
        bob.type("Bob")
        ann.read()
        ann.type("hi Bob", "/msg Bob psst")
        bob.type("hi Ann")
        self.assertEqual(ann.lines(), ["MSG #lobby <Ann> hi Bob", "PRIV <Ann> @Bob psst",
                                       "MSG #lobby <Bob> hi Ann"])
        self.assertEqual(bob.read()[-3:], ["MSG #lobby <Ann> hi Bob", "PRIV <Ann> @Bob psst",
                                           "MSG #lobby <Bob> hi Ann"])

    def test_oversizedFrame(self):
        """
        A line over --max-line-length closes the WebSocket with 1009
        (message too big), logged as a security event.
        """
        ann = self.loggedIn()
        ann.type("x" * 65)
        (opcode, payload), = ann.received()
        self.assertEqual((opcode, payload[:2]), (CLOSE, (1009).to_bytes(2, "big")))
        ann.lost()
        self.assertEqual(len(self.security("line-too-long")), 1)

    def test_lineAtTheLimit(self):
        """
        A line of exactly --max-line-length bytes is a line like any other.
        """
        ann = self.loggedIn()
        ann.read()
        ann.type("y" * 64)
        self.assertEqual(ann.lines(), ["MSG #lobby <Ann> " + "y" * 64])

    def test_binaryFrame(self):
        """
        A binary frame is refused: closed with 1003 (unsupported data),
        nothing said, logged as a security event.
        """
        ann = self.loggedIn()
        bob = LinesInMemory(self.admission)
        bob.type("Bob")
        ann.read()
        ann.send(b"hello", BINARY)
        (opcode, payload), = ann.received()
        self.assertEqual((opcode, payload[:2]), (CLOSE, (1003).to_bytes(2, "big")))
        self.assertEqual(len(self.security("binary-frame")), 1)
        self.assertNotIn("MSG #lobby <Ann> hello", bob.read())

    def test_closedByBrowser(self):
        """
        A browser that closes leaves the chat (the others see it quit) and
        frees its place in the per-address count.
        """
        self.site = self.makeSite(maxPerIP=1)
        ann = self.loggedIn()
        bob = LinesInMemory(self.admission, host="203.0.113.5")
        bob.type("Bob")
        ann.read()
        ann.send((1000).to_bytes(2, "big"), CLOSE)
        self.assertEqual(ann.received()[0][0], CLOSE)
        ann.lost()
        self.assertEqual(bob.read()[-1], "QUIT Ann connection closed")
        self.loggedIn("Ann2")

    def test_closedByServer(self):
        """
        /quit ends with a normal close frame; a browser that never answers
        it is cut off after a grace period.
        """
        ann = self.loggedIn()
        ann.read()
        ann.type("/quit")
        opcodes = [opcode for opcode, payload in ann.received()]
        self.assertEqual(opcodes[-1], CLOSE)
        self.assertFalse(ann.transport.disconnecting)
        self.clock.advance(CLOSE_GRACE)
        self.assertTrue(ann.transport.disconnecting)

    def test_slowReader(self):
        """
        A browser that stops reading is dropped like any client; the
        others get every line.
        """
        self.site = self.makeSite(maxSendBuffer=1000)
        ann = self.loggedIn()
        bob = LinesInMemory(self.admission)
        bob.type("Bob")
        # The socket's buffer is full: the transport pauses its producer.
        ann.transport.producer.pauseProducing()
        for i in range(25):
            bob.type(f"line {i} " + "z" * 40)
        self.assertFalse(ann.transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(ann.transport.disconnecting)
        self.assertEqual(len(self.security("slow-reader")), 1)
        self.assertEqual(sum(line.startswith("MSG #lobby <Bob> line") for line in bob.read()), 25)

    def test_sharedLimits(self):
        """
        The per-address limit counts a browser and a line client together.
        """
        self.site = self.makeSite(maxPerIP=1)
        LinesInMemory(self.admission, host="198.51.100.7").type("Bob")
        browser = Browser(self.site, clock=self.clock)
        head, _, data = browser.open().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 101 "))
        opcodes, payloads = zip(*frames(data))
        self.assertEqual(payloads[0], b"ERROR too many connections from your address (max 1)")
        self.assertEqual(opcodes[-1], CLOSE)

    def test_deniedBeforeReading(self):
        """
        A denied address is refused before the page is even served.
        """
        self.site = self.makeSite(deny=parseNetwork("198.51.100.0/24"))
        self.assertIsNone(Browser(self.site, clock=self.clock).protocol)
        self.assertEqual(len(self.security("refused")), 1)

    def test_trustedProxy(self):
        """
        Through a trusted proxy, the address it forwards is the client's:
        counted, screened and logged as such; another peer's
        X-Forwarded-For is not believed.
        """
        self.site = self.makeSite(Gate(proxies=parseNetwork("127.0.0.1")),
                                  deny=parseNetwork("203.0.113.66"))
        proxied = Browser(self.site, clock=self.clock, host="127.0.0.1")
        proxied.open(X_Forwarded_For="192.0.2.9, 198.51.100.20")
        proxied.type("Ann")
        session, = self.admission._sessions
        self.assertEqual(session.connection.host, "198.51.100.20")
        self.assertIn("198.51.100.20 via 127.0.0.1", session.connection.peer)
        direct = Browser(self.site, clock=self.clock, host="198.51.100.8")
        direct.open(X_Forwarded_For="192.0.2.77")
        self.assertEqual({s.connection.host for s in self.admission._sessions},
                         {"198.51.100.20", "198.51.100.8"})
        denied = Browser(self.site, clock=self.clock, host="127.0.0.1", port=40001)
        self.assertTrue(denied.open(X_Forwarded_For="203.0.113.66").startswith(b"HTTP/1.1 403 "))
