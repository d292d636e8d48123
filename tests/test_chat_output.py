"""
Tests for L{globalchat.chat.output}: what a session is sent in one turn
of the reactor reaches its connection in one write, in order, and the
slow-reader bound counts those bytes from the moment they are queued.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.chat.rules import HANDOVER_SIZE, SLOW_HARD_LIMIT
from globalchat.policy import Limits
from tests.chatfakes import GENEROUS, Recorder


class Failing(Recorder):
    def write(self, data):
        raise OSError("gone")


class TurnTests(SynchronousTestCase):
    """
    Sessions of one hub whose connections record every write.
    """

    def setUp(self):
        self.clock = Clock()
        self.hub = Hub()
        self.admission = Admission(self.hub, limits=GENEROUS, clock=self.clock)

    def login(self, *names, connection=None):
        """
        Log C{names} in, and end the turn: their greetings and joins are
        written and forgotten.

        @return: each session and its connection.
        """
        logins = []
        for name in names:
            out = connection or Recorder(clock=self.clock)
            session = self.admission.connect(out)
            session.lineReceived(name)
            logins.append((session, out))
        self.clock.advance(0)
        for _, out in logins:
            out._data.clear()
        return logins

    def test_oneWritePerTurn(self):
        """
        Everything a session is sent in one turn reaches its connection in
        one write, in the order it was sent, once the turn is over.
        """
        (ann, annOut), (bob, bobOut) = self.login("Ann", "Bob")
        with self.hub.batch():
            ann.lineReceived("one")
        bob.lineReceived("/join #tea")
        ann.lineReceived("two")
        self.assertEqual(annOut._data, [])
        self.clock.advance(0)
        self.assertEqual(annOut._data, [b"MSG #lobby <Ann> one\r\nMSG #lobby <Ann> two\r\n"])
        self.assertEqual(bobOut._data, [b"MSG #lobby <Ann> one\r\nJOIN #tea Bob\r\nOK /join\r\n"
                                        b"MSG #lobby <Ann> two\r\n"])
        ann.lineReceived("three")
        self.clock.advance(0)
        self.assertEqual(annOut._data[1:], [b"MSG #lobby <Ann> three\r\n"])

    def test_fanOutSharesBytes(self):
        """
        Members sent one run in a turn are all handed the same bytes
        object: a fan-out copies nothing per member.
        """
        (ann, _), *others = self.login("Ann", "Bob", "Cy", "Dee")
        outs = [out for _, out in others]
        with self.hub.batch():
            ann.lineReceived("hello")
            ann.lineReceived("again")
        self.clock.advance(0)
        written = [out._data[0] for out in outs]
        self.assertEqual(written[0], b"MSG #lobby <Ann> hello\r\nMSG #lobby <Ann> again\r\n")
        self.assertTrue(all(data is written[0] for data in written))

    def test_closeWritesFirst(self):
        """
        A session that hangs up writes what it was sent in the turn first,
        then closes.
        """
        [(ann, annOut)] = self.login("Ann")
        ann.lineReceived("bye now")
        ann.lineReceived("/quit")
        self.assertTrue(annOut.closed)
        self.assertEqual(b"".join(annOut._data), b"MSG #lobby <Ann> bye now\r\nOK /quit\r\n")

    def test_goneBeforeTheTurnEnds(self):
        """
        A connection that is lost before the turn ends is not written to.
        """
        (ann, _), (bob, bobOut) = self.login("Ann", "Bob")
        ann.lineReceived("hello")
        bob.disconnected()
        self.clock.advance(0)
        self.assertEqual(bobOut._data, [])

    def test_failingConnection(self):
        """
        A connection whose write fails does not keep the turn's bytes from
        the others; the failure is logged.
        """
        (ann, _), (bob, bobOut) = self.login("Ann", "Bob")
        self.login("Ghost", connection=Failing())
        self.clock.advance(0)
        bobOut._data.clear()
        self.flushLoggedErrors(OSError)
        ann.lineReceived("hello")
        self.clock.advance(0)
        self.assertEqual(bobOut._data, [b"MSG #lobby <Ann> hello\r\n"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_handedOverEarly(self):
        """
        A turn's bytes go to the transport at once when they reach what a
        transport buffers before it pauses, so that a client that does not
        read is paused, and what follows is owed, as without coalescing.
        """
        [(ann, annOut)] = self.login("Ann")
        line = b"x" * 1022 + b"\r\n"
        for _ in range(HANDOVER_SIZE // len(line) - 1):
            ann.send(line)
        self.assertEqual(annOut._data, [])
        ann.send(line)
        self.assertEqual([len(data) for data in annOut._data], [HANDOVER_SIZE])


class SlowReaderTests(SynchronousTestCase):
    """
    The slow-reader bound with output queued for the end of the turn.
    """

    def setUp(self):
        self.clock = Clock()
        self.admission = Admission(Hub(), limits=Limits(maxSendBuffer=100, slowGrace=1.0),
                                   clock=self.clock)
        self.admission.startService()
        self.addCleanup(self.admission.stopService)
        self.out = Recorder(clock=self.clock)
        self.reader = self.admission.connect(self.out)
        self.reader.lineReceived("Reader")
        self.clock.advance(0)
        self.out._data.clear()
        self.reader.pauseProducing()

    def test_hardLimitExact(self):
        """
        Bytes queued for a client that stopped reading are owed from the
        moment they are queued: it is dropped by the byte that takes it
        over four times its send buffer, before the turn is over, and
        nothing queued is written.
        """
        limit = SLOW_HARD_LIMIT * 100
        self.reader.send(b"x" * (limit - 2) + b"\r\n")
        self.assertEqual(self.reader.owed, limit)
        self.assertFalse(self.out.aborted)
        self.reader.send(b"\n")
        self.assertTrue(self.out.aborted)
        self.clock.advance(0)
        self.assertEqual(self.out._data, [])

    def test_graceCountsQueued(self):
        """
        A client owed more than its send buffer for the grace time is
        dropped, counting bytes that were queued and not yet written.
        """
        self.reader.send(b"x" * 99 + b"\r\n")
        self.assertEqual(self.reader.owed, 101)
        self.clock.advance(0.5)
        self.assertFalse(self.out.aborted)
        self.clock.advance(0.5)
        self.assertTrue(self.out.aborted)

    def test_withinBound(self):
        """
        A client owed exactly its send buffer is kept past the grace time,
        and gets every byte; one that reads again owes nothing.
        """
        self.reader.send(b"x" * 98 + b"\r\n")
        self.clock.advance(5)
        self.assertFalse(self.out.aborted)
        self.assertEqual(self.out._data, [b"x" * 98 + b"\r\n"])
        self.reader.resumeProducing()
        self.assertEqual(self.reader.owed, 0)
