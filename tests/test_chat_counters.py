"""
Tests for the chat's counters (L{globalchat.chat.counters}) against the
I/O-free hub, and C{/stats}, which shows them to operators.
"""

from twisted.internet.defer import fail
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.counters import Histogram, largestOwed
from globalchat.chat.hub import Hub
from globalchat.chat.statscommands import statsLines
from globalchat.policy import Limits, parseNetwork
from globalchat.store.interface import StoreError
from globalchat.store.memory import MemoryStore
from tests.chatfakes import Chat, HeldStore, Recorder, Users, connect


class TrafficTests(SynchronousTestCase):
    """
    Lines in, deliveries and bytes out, as an operator reads them.
    """

    def setUp(self):
        self.hub = Hub()
        self.users = Users(self.hub)
        self.users.login("Ann", "Bob", "Cy")
        self.counters = self.hub.counters

    def test_deliveryPerRecipient(self):
        """
        A message to a room of three is one line received and three
        deliveries; the bytes out are exactly what the connections got.
        """
        before = (self.counters.linesIn, self.counters.deliveries, self.counters.bytesOut)
        sent = sum(len(b"".join(r.data)) for r in self.users.recorders.values())
        self.users.sessions["Ann"].receive(b"hello")
        got = sum(len(b"".join(r.data)) for r in self.users.recorders.values())
        self.assertEqual(
            (self.counters.linesIn - before[0], self.counters.deliveries - before[1],
             self.counters.bytesOut - before[2]),
            (1, 3, got - sent))

    def test_privateDelivery(self):
        """
        A private message is delivered twice: to its recipient, and its
        copy to its sender.
        """
        before = self.counters.deliveries
        self.users.say("Ann", "/msg Bob psst")
        self.assertEqual(self.counters.deliveries - before, 2)

    def test_droppedByReason(self):
        """
        Invalid UTF-8, control characters and over-long lines are each
        counted under their reason, and still as lines received.
        """
        session = self.users.sessions["Ann"]
        before = self.counters.linesIn
        session.receive(b"\xff\xfe")
        session.receive(b"\x1b[2J clear your screen")
        session.lineTooLong(4096)
        self.assertEqual(self.counters.dropped,
                         {"rate": 0, "too-long": 1, "invalid-utf8": 1, "control": 1})
        self.assertEqual(self.counters.linesIn - before, 3)

    def test_droppedForRate(self):
        """
        Lines over the rate are counted as dropped for the rate.
        """
        hub = Hub()
        admission = Admission(hub, limits=Limits(rate=1, burst=2, floodLimit=100),
                              clock=Clock())
        session = admission.connect(Recorder())
        for line in (b"Ann", b"one", b"two", b"three"):
            session.receive(line)
        self.assertEqual(hub.counters.dropped["rate"], 2)


class ConnectionTests(SynchronousTestCase):
    """
    Connections by port kind, and logins by kind.
    """

    def test_openAndAccepted(self):
        """
        Connections are counted open while they last and accepted for
        good, by the kind of port they came through.
        """
        hub = Hub()
        tls = connect(hub, Recorder(kind="tls"))
        connect(hub, Recorder())
        self.assertEqual((hub.counters.open, hub.counters.accepted),
                         ({"tcp": 1, "tls": 1, "web": 0, "irc": 0}, {"tcp": 1, "tls": 1, "web": 0, "irc": 0}))
        tls.disconnected()
        self.assertEqual((hub.counters.open, hub.counters.accepted),
                         ({"tcp": 1, "tls": 0, "web": 0, "irc": 0}, {"tcp": 1, "tls": 1, "web": 0, "irc": 0}))

    def test_loginsByKind(self):
        """
        A guest, a password login and a failed password are each counted
        under their kind.
        """
        chat = Chat()
        counters = chat.hub.counters
        globalLogPublisher.addObserver(counters)
        self.addCleanup(globalLogPublisher.removeObserver, counters)
        bea, _ = chat.connect("Bea", "/register correct-horse")
        bea.disconnected()
        bea, _ = chat.connect("Bea", "correct-horse")
        bea.disconnected()
        chat.connect("Bea", "wrong-password")
        chat.connect("Ann")
        self.assertEqual(counters.loginsByKind(),
                         {"guest": 2, "password": 1, "certificate": 0, "failed": 1})


class StoreTests(SynchronousTestCase):
    """
    The store's figures: writes timed, messages waiting, failures.
    """

    def test_waitingAndTimed(self):
        """
        Messages handed to a busy store are counted as waiting until it
        has stored them, and the write is timed on the hub's clock.
        """
        clock = Clock()
        store = HeldStore(MemoryStore())
        hub = Hub(store=store, now=clock.seconds)
        users = Users(hub)
        users.login("Ann")
        store.release()
        users.say("Ann", "one")
        clock.advance(0.02)
        users.say("Ann", "two")
        self.assertEqual(hub.counters.storeWaiting, 2)
        clock.advance(0.01)
        store.release()
        latency = hub.counters.storeLatency
        self.assertEqual((hub.counters.storeWaiting, latency.count), (0, 2))
        self.assertEqual(latency.cumulative()[4:7], [(0.01, 1), (0.025, 1), (0.05, 2)])

    def test_errors(self):
        """
        A write the store refuses is counted as an error.
        """
        store = MemoryStore()
        hub = Hub(store=store)
        users = Users(hub)
        users.login("Ann")
        store.append = lambda drafts: fail(StoreError("disk full"))
        users.say("Ann", "lost")
        self.flushLoggedErrors(StoreError)
        self.assertEqual((hub.counters.storeErrors, hub.counters.storeWaiting), (1, 0))

    def test_rows(self):
        """
        The memory store counts the messages it keeps, less the pruned.
        """
        hub = Hub()
        users = Users(hub)
        users.login("Ann", "Bob")
        users.say("Ann", "one")
        users.say("Ann", "two")
        users.say("Ann", "/msg Bob three")
        self.assertEqual(hub.store.rows, 3)
        hub.store.prune(None, 1)
        self.assertEqual(hub.store.rows, 2)


class HistogramTests(SynchronousTestCase):
    def test_cumulative(self):
        """
        Buckets count what is at or below their bound, ending with all.
        """
        histogram = Histogram((1, 2))
        for value in (0.5, 1, 1.5, 7):
            histogram.observe(value)
        self.assertEqual(histogram.cumulative(), [(1, 2), (2, 3), (float("inf"), 4)])
        self.assertEqual((histogram.count, histogram.sum), (4, 10.0))


class OwedTests(SynchronousTestCase):
    def test_largestOwed(self):
        """
        The slowest reader's debt is what is written to it since it
        stopped reading; one that reads again owes nothing.
        """
        hub = Hub()
        users = Users(hub)
        users.login("Ann", "Bob")
        bob = users.sessions["Bob"]
        bob.pauseProducing()
        users.say("Ann", "x" * 100)
        self.assertEqual(largestOwed(hub.bus), len(b"MSG #lobby <Ann> " + b"x" * 100 + b"\r\n"))
        bob.resumeProducing()
        self.assertEqual(largestOwed(hub.bus), 0)


class StatsCommandTests(SynchronousTestCase):
    """
    C{/stats}, for server operators.
    """

    def setUp(self):
        self.chat = Chat(operators=["Root"])
        globalLogPublisher.addObserver(self.chat.hub.counters)
        self.addCleanup(globalLogPublisher.removeObserver, self.chat.hub.counters)
        self.root, self.rootLines = self.chat.connect("Root", "/register root-password")
        self.bob, self.bobLines = self.chat.connect("Bob", host="198.51.100.20")
        self.bob.lineReceived("hello")
        self.rootLines.lines()
        self.bobLines.lines()

    def test_operatorSeesFigures(self):
        """
        An operator gets the figures in a few lines, then OK.
        """
        Admission(self.chat.hub, limits=Limits(deny=parseNetwork("203.0.113.0/24")),
                  clock=Clock()).screen("203.0.113.5", "203.0.113.5:4000")
        self.root.lineReceived("/stats")
        lines = self.rootLines.lines()
        self.assertEqual(len(lines), len(statsLines(self.chat.hub)) + 1)
        self.assertEqual(lines[-1], "OK /stats")
        self.assertEqual(lines[:2], [
            "INFO connections: 2 open (tcp 2); 2 accepted; 1 refused (deny 1)",
            "INFO users: 2 online; rooms: 1; logins: guest 2"])
        self.assertIn("security events: refused 1, registered 1", lines[5])

    def test_othersRefused(self):
        """
        Anyone else is told it is for operators, and sees no figure.
        """
        self.bob.lineReceived("/stats")
        self.assertEqual(self.bobLines.lines(), ["ERROR only server operators may do that"])

    def test_usage(self):
        """
        /stats takes no arguments.
        """
        self.root.lineReceived("/stats now")
        self.assertEqual(self.rootLines.lines(), ["ERROR usage: /stats"])
