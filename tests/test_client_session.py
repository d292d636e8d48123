"""
Tests for L{globalchat.client.session}: reconnecting, logging in again,
resuming and re-sending, on a fake endpoint and a L{Clock}.
"""

from __future__ import annotations

from OpenSSL import SSL
from twisted.application.internet import backoffPolicy
from twisted.internet import error
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from globalchat.client.resume import ResumeState
from globalchat.client.session import ChatSession

#: Without jitter, so that delays can be checked: 1, 2, 4, 8 ... s.
POLICY = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0, jitter=lambda: 0)


@implementer(IStreamClientEndpoint)
class FakeEndpoint:
    """
    Connection attempts that the test lets succeed or fail.
    """

    def __init__(self) -> None:
        self.attempts: list[tuple[object, Deferred]] = []

    def connect(self, factory):
        attempt = Deferred()
        self.attempts.append((factory, attempt))
        return attempt

    def accept(self) -> Connection:
        factory, attempt = self.attempts.pop(0)
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        attempt.callback(protocol)
        return Connection(protocol, transport)

    def refuse(self) -> None:
        self.attempts.pop(0)[1].errback(error.ConnectionRefusedError())


class Connection:
    """
    One accepted connection, as the server sees it.
    """

    def __init__(self, protocol, transport: StringTransport) -> None:
        self.protocol = protocol
        self.transport = transport

    def sent(self) -> list[str]:
        """
        The lines sent since last asked.
        """
        data = self.transport.value()
        self.transport.clear()
        return data.decode("utf-8").splitlines()

    def say(self, *lines: str) -> None:
        self.protocol.dataReceived("".join(f"{line}\r\n" for line in lines).encode("utf-8"))

    def drop(self, reason: Exception | None = None) -> None:
        self.protocol.connectionLost(Failure(reason or error.ConnectionLost()))


class Recorder:
    """
    A L{globalchat.client.events.SessionEvents} that writes down what it
    is told.
    """

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.passwords = ["sesame"]

    def lines(self) -> list[str]:
        return [event[1] for event in self.events if event[0] == "line"]

    def serverLine(self, line):
        self.events.append(("line", line))

    def loggedIn(self, name, again):
        self.events.append(("loggedIn", name, again))

    def disconnected(self, reason):
        self.events.append(("disconnected",))

    def reconnecting(self, delay):
        self.events.append(("reconnecting", delay))

    def nameTaken(self, name, delay):
        self.events.append(("nameTaken", name, delay))

    def nameRefused(self, line, name, password, dropped):
        self.events.append(("nameRefused", line, name, password, dropped))

    def failed(self, reason):
        self.events.append(("failed", reason.type))

    def refused(self, message):
        self.events.append(("refused", message))

    def password(self, name):
        self.events.append(("password", name))
        return self.passwords[0]


class SessionTestCase(SynchronousTestCase):
    """
    A session on a fake endpoint, connected once.
    """

    name: str | None = "John"

    def setUp(self):
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.events = Recorder()
        self.session = ChatSession(self.endpoint, self.clock, self.events, name=self.name,
                                   timeout=10, retryPolicy=POLICY, state=ResumeState("p"))
        self.started = ensureDeferred(self.session.start())
        self.connection = self.endpoint.accept()
        self.successResultOf(self.started)

    def logIn(self, connection: Connection | None = None) -> None:
        connection = connection or self.connection
        connection.sent()
        connection.say("Hello Good morning !!!! ::: John", "JOIN #lobby John")

    def reconnect(self) -> Connection:
        """
        Drop the connection and let the first retry connect.
        """
        self.connection.drop()
        self.clock.advance(POLICY(1))
        self.connection = self.endpoint.accept()
        return self.connection


class LoginTests(SessionTestCase):
    """
    The first login and what follows it.
    """

    def test_tagsAndClientIds(self):
        """
        The first login asks for tags; lines typed meanwhile wait for the
        greeting, then stored lines go with a client id.
        """
        self.session.send(b"hello")
        self.session.send(b"  ")
        self.session.send(b"/who")
        self.assertEqual(self.connection.sent(), ["@tags John"])
        self.connection.say("Hello Good morning !!!! ::: John")
        self.assertEqual(self.connection.sent(), ["@id=p.1 hello", "/who"])
        self.assertEqual(self.events.events[-1], ("loggedIn", "John", False))
        self.assertEqual(self.session.unanswered, 2)
        self.connection.say("@id=7;cid=p.1 MSG #lobby <John> hello", "WHO #lobby John", "OK /who")
        self.assertTrue(self.session.idle)

    def test_dedupe(self):
        """
        A stored message with an id not above the last one shown is not
        shown again, but still answers our line.
        """
        self.logIn()
        self.session.send(b"hello")
        self.connection.say("@id=7 HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> hi",
                            "@id=8;cid=p.1 MSG #lobby <John> hello",
                            "@id=8;cid=p.1 MSG #lobby <John> hello",
                            "@id=6 MSG #lobby <Ann> late")
        self.assertEqual(self.events.lines()[-2:], [
            "@id=7 HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> hi",
            "@id=8;cid=p.1 MSG #lobby <John> hello",
        ])
        self.assertTrue(self.session.idle)

    def test_historyShownWhenAsked(self):
        """
        The answer to /history or /join shows stored messages even if they
        were shown before: the user asked for them.
        """
        self.logIn()
        self.connection.say("@id=8 MSG #lobby <Ann> hi")
        self.session.send(b"/history")
        self.connection.say("@id=8 HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> hi", "OK /history")
        self.assertEqual(self.events.lines()[-2:], [
            "@id=8 HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> hi", "OK /history"])

    def test_typedName(self):
        """
        Without a name given, the first line sent is the name, with tags;
        a refused one is reported with the server's reason and counted, the lines given before the
        refusal was known are dropped, and the next line is the name.
        """
        session = ChatSession(self.endpoint, self.clock, self.events, state=ResumeState("q"))
        ensureDeferred(session.start())
        connection = self.endpoint.accept()
        session.send(b"J J")
        session.send(b"hello all")
        self.assertEqual(connection.sent(), ["@tags J J"])
        connection.say("ERROR invalid name 'J J'")
        self.assertEqual(self.events.events[-1:], [
            ("nameRefused", "ERROR invalid name 'J J'", "J J", False, 1)])
        self.assertEqual(connection.sent(), [])
        session.send(b"John")
        self.assertEqual(connection.sent(), ["@tags John"])
        connection.say("Hello Good morning !!!! ::: John")
        self.assertEqual((session.errors, session.state.name), (1, "John"))

    def test_refusedNameNotReplaced(self):
        """
        A name given up front that the server refuses, invalid or taken,
        is reported; the chat line waiting behind it is never sent, as a
        name or at all.
        """
        for refusal in ["invalid name 'bad name': use 1-32 letters", "the name Ann is taken"]:
            events = Recorder()
            session = ChatSession(self.endpoint, self.clock, events, name="bad name",
                                  state=ResumeState("q"))
            ensureDeferred(session.start())
            connection = self.endpoint.accept()
            session.send(b"hi")
            self.assertEqual(connection.sent(), ["@tags bad name"])
            connection.say(f"ERROR {refusal}")
            self.assertEqual(events.events,
                             [("nameRefused", f"ERROR {refusal}", "bad name", False, 1)])
            self.assertEqual((connection.sent(), session.unanswered), ([], 0))

    def test_refusedPasswordNotReplaced(self):
        """
        A wrong password at the first login is a refused login too: the
        next line is not sent as the name.
        """
        session = ChatSession(self.endpoint, self.clock, self.events, name="Ann",
                              state=ResumeState("q"))
        ensureDeferred(session.start())
        connection = self.endpoint.accept()
        session.send(b"hi")
        connection.say("AUTH Ann")
        self.assertEqual(connection.sent(), ["@tags Ann", "sesame"])
        connection.say("ERROR wrong password; give your name again")
        self.assertEqual(self.events.events[-1], (
            "nameRefused", "ERROR wrong password; give your name again", "Ann", True, 1))
        self.assertEqual(connection.sent(), [])

    def test_noRetryBeforeLogin(self):
        """
        A connection lost before ever logging in is reported, not retried:
        there is nothing to resume.
        """
        self.connection.drop(error.ConnectionDone())
        self.assertEqual(self.events.events[-1], ("failed", error.ConnectionDone))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_firstConnectionFails(self):
        """
        When the very first attempt fails, L{ChatSession.start} fails with
        why, and nothing is retried.
        """
        endpoint = FakeEndpoint()
        session = ChatSession(endpoint, self.clock, self.events, name="Ann")
        started = ensureDeferred(session.start())
        endpoint.refuse()
        self.clock.advance(0)
        self.failureResultOf(started, error.ConnectionRefusedError)
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.events.events, [])


class ReconnectTests(SessionTestCase):
    """
    After a dropped connection.
    """

    def test_resendUnacknowledged(self):
        """
        After a drop the session says so, reconnects after the policy's
        delay, resumes after the last id shown, and, once back, sends the
        unanswered lines again with the same ids before new ones.
        """
        self.logIn()
        self.session.send(b"one")
        self.session.send(b"/who")
        self.connection.say("@id=5 MSG #lobby <Ann> hi")
        self.assertEqual(self.connection.sent(), ["@id=p.1 one", "/who"])
        self.connection.drop()
        self.assertEqual(self.events.events[-2:], [("disconnected",), ("reconnecting", 1.0)])
        self.session.send(b"two")
        self.assertFalse(self.session.connected)
        self.clock.advance(1)
        connection = self.endpoint.accept()
        self.assertEqual(connection.sent(), ["@resume=5 John"])
        connection.say("Hello Good morning !!!! ::: John")
        self.assertEqual(self.events.events[-1], ("loggedIn", "John", True))
        self.assertEqual(connection.sent(), ["@id=p.1 one", "/who", "@id=p.2 two"])

    def test_historyAcknowledges(self):
        """
        A line stored before the drop comes back in the resumed history:
        that answers it, so it is not sent again.
        """
        self.logIn()
        self.session.send(b"one")
        self.session.send(b"two")
        connection = self.reconnect()
        connection.sent()
        connection.say("Hello Good morning !!!! ::: John")
        # The greeting releases the lines before the history comes.
        self.assertEqual(connection.sent(), ["@id=p.1 one", "@id=p.2 two"])
        connection.say("@id=3;cid=p.1 HIST 2026-11-27T18:00:00Z MSG #lobby <John> one")
        self.assertEqual(self.session.unanswered, 1)
        # The stored copy answering the line sent again is not shown twice.
        connection.say("@id=3;cid=p.1 MSG #lobby <John> one",
                       "@id=4;cid=p.2 MSG #lobby <John> two")
        self.assertEqual(self.events.lines()[-2:], [
            "@id=3;cid=p.1 HIST 2026-11-27T18:00:00Z MSG #lobby <John> one",
            "@id=4;cid=p.2 MSG #lobby <John> two",
        ])
        self.assertTrue(self.session.idle)

    def test_backoff(self):
        """
        Failed attempts are retried after growing delays, each told.
        """
        self.logIn()
        self.connection.drop()
        for delay in (1.0, 2.0, 4.0):
            self.assertEqual(self.events.events[-1], ("reconnecting", delay))
            self.clock.advance(delay)
            self.endpoint.refuse()
        self.assertEqual(self.events.events[-1], ("reconnecting", 8.0))

    def test_followsNick(self):
        """
        After /nick, the session logs in again under the new name.
        """
        self.logIn()
        self.connection.say("NICK John Johnny")
        self.assertEqual(self.reconnect().sent(), ["@resume=0 Johnny"])

    def test_passwordGivenAgain(self):
        """
        A server that asks for the password gets the same one again.
        """
        self.logIn()
        connection = self.reconnect()
        connection.sent()
        connection.say("AUTH John")
        self.assertEqual(connection.sent(), ["sesame"])
        self.assertEqual(self.events.events[-1], ("password", "John"))

    def test_nameTakenRetried(self):
        """
        A name still held by the old connection is asked for again with
        growing delays, without showing the refusal, until the timeout.
        """
        self.logIn()
        connection = self.reconnect()
        connection.sent()
        connection.say("ERROR the name John is taken, choose another")
        self.assertEqual(self.events.events[-1], ("nameTaken", "John", 1.0))
        self.clock.advance(1)
        self.assertEqual(connection.sent(), ["@resume=0 John"])
        connection.say("ERROR the name John is taken, choose another")
        self.assertEqual(self.events.events[-1], ("nameTaken", "John", 2.0))
        self.clock.advance(2)
        connection.say("Hello Good morning !!!! ::: John")
        self.assertEqual(self.events.events[-1], ("loggedIn", "John", True))
        self.assertNotIn("ERROR the name John is taken, choose another", self.events.lines())

    def test_nameTakenGivesUp(self):
        """
        A name taken for longer than the timeout is someone else's: give
        up, and stop.
        """
        self.logIn()
        connection = self.reconnect()
        for delay in (1, 2, 4):
            connection.say("ERROR the name John is taken, choose another")
            self.clock.advance(delay)
        connection.say("ERROR the name John is taken, choose another")
        self.assertEqual(self.events.events[-1][0], "refused")
        self.assertIn("is taken", self.events.events[-1][1])
        self.assertTrue(connection.transport.disconnecting)

    def test_refusalsNotRetried(self):
        """
        A refusal that retrying cannot cure ends the session.
        """
        for refusal in ["banned", "wrong password; give your name again",
                        "invalid name 'John': use 1-32 letters"]:
            self.setUp()
            self.logIn()
            connection = self.reconnect()
            connection.sent()
            if refusal.startswith("wrong"):
                connection.say("AUTH John")
            connection.say(f"ERROR {refusal}")
            self.assertEqual(self.events.events[-1], ("refused", refusal))
            connection.drop(error.ConnectionDone())
            self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_serverFullRetried(self):
        """
        A full server is tried again after its refusal and hang-up.
        """
        self.logIn()
        connection = self.reconnect()
        connection.say("ERROR server full: at most 1000 connections at once")
        connection.drop(error.ConnectionDone())
        self.assertEqual(self.events.events[-2:], [("disconnected",), ("reconnecting", 1.0)])

    def test_tlsFailureNotRetried(self):
        """
        A TLS failure would happen again: it ends the session.
        """
        self.logIn()
        self.connection.drop(SSL.Error([("SSL routines", "", "certificate verify failed")]))
        self.assertEqual(self.events.events[-1], ("failed", SSL.Error))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_noReconnect(self):
        """
        With reconnecting off, a drop ends the session.
        """
        session = ChatSession(self.endpoint, self.clock, self.events, name="Ann",
                              reconnect=False)
        ensureDeferred(session.start())
        connection = self.endpoint.accept()
        connection.say("Hello Good morning !!!! ::: Ann")
        connection.drop()
        self.assertEqual(self.events.events[-1], ("failed", error.ConnectionLost))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop(self):
        """
        Stopping hangs up and reports nothing more.
        """
        self.logIn()
        self.session.stop()
        self.assertTrue(self.connection.transport.disconnecting)
        count = len(self.events.events)
        self.connection.drop(error.ConnectionDone())
        self.assertEqual(len(self.events.events), count)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class ThrottleTests(SessionTestCase):
    """
    The user's input is read no faster than each connection takes it.
    """

    def test_producerFollowsConnections(self):
        """
        The input is registered with every new connection, and a dropped
        connection leaves it running, not stopped or paused.
        """
        calls = []

        class Input:
            def pauseProducing(self):
                calls.append("pause")

            def resumeProducing(self):
                calls.append("resume")

            def stopProducing(self):
                calls.append("stop")

        self.logIn()
        self.session.setProducer(Input())
        throttle = self.connection.transport.producer
        throttle.pauseProducing()
        throttle.stopProducing()
        self.assertEqual(calls, ["pause", "resume"])
        connection = self.reconnect()
        self.assertIs(connection.transport.producer, throttle)
        self.assertTrue(connection.transport.streaming)
