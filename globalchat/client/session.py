# -*- test-case-name: tests.test_client_session -*-
"""
One chat over as many connections as it takes.

A L{ChatSession} keeps a connection to the server with
L{ClientService}, which reconnects with exponential backoff and jitter
after a drop or a server restart.  Each new connection logs in again
under the current name with C{@resume=N}, so the server sends what was
missed, and sends again the user's lines that were not answered, with
their client ids, so the server stores none of them twice
(docs/protocol.md).  Refusals that retrying cannot cure (a TLS failure,
a refused name or password, a ban) end the session instead of looping.

What happens is told to a L{SessionEvents}; deciding what the user sees
and when the command ends is the caller's business.
"""

from __future__ import annotations

from typing import Callable

from OpenSSL import SSL
from twisted.application.internet import ClientService, backoffPolicy
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall, IPushProducer, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat.wire import command, parse
from globalchat.client.events import SessionEvents
from globalchat.client.protocol import (
    ChatClientProtocol,
    Login,
    Outgoing,
    Password,
    PendingReplies,
    isBlank,
)
from globalchat.client.resume import ResumeState

#: Reconnect after about 1 s, then 2, 4, ... at most 30 s, plus up to 1 s
#: of jitter so that the clients of a restarted server do not all come
#: back at once.
RETRY_POLICY = backoffPolicy(initialDelay=0.5, maxDelay=30.0, factor=2.0)

#: Refusals of a login that go away by themselves: the server answers
#: these before closing, and the next connection may be let in.
_PASSING_REFUSALS = ("server full", "too many connections")

#: Commands whose answer shows stored messages on purpose, even ones shown
#: before.
_HISTORY_COMMANDS = frozenset({"history", "join"})


def _cannotImprove(reason: Failure) -> bool:
    """
    Whether a lost connection failed for a reason another connection
    would meet again: the TLS handshake (an untrusted or changed
    certificate, a port that is not TLS).
    """
    return reason.check(SSL.Error) is not None or reason.type.__name__ == "VerificationError"


@implementer(IPushProducer)
class _Throttle:
    """
    Lets each connection slow the user's input down to what the server
    takes, without stopping the input when that connection ends (a
    transport stops its producer when it closes).
    """

    def __init__(self, producer: IPushProducer) -> None:
        self._producer = producer

    def pauseProducing(self) -> None:
        self._producer.pauseProducing()

    def resumeProducing(self) -> None:
        self._producer.resumeProducing()

    def stopProducing(self) -> None:
        # The connection ended, not the input, which must not stay paused
        # while we reconnect.
        self._producer.resumeProducing()


class ChatSession:
    """
    The connection to one server for one client run, resumed after every
    drop until L{stop}.
    """

    def __init__(
        self,
        endpoint: IStreamClientEndpoint,
        clock: IReactorTime,
        events: SessionEvents,
        name: str | None = None,
        reconnect: bool = True,
        timeout: float = 10.0,
        retryPolicy: Callable[[int], float] = RETRY_POLICY,
        state: ResumeState | None = None,
    ) -> None:
        """
        @param name: the name to log in as; without it, the first line
            sent is the name.
        @param reconnect: whether to reconnect after a dropped connection
            at all.
        @param timeout: how long to keep trying a name the server still
            holds for our old connection.
        @param retryPolicy: seconds to wait before the Nth attempt, for
            connecting and for a held name alike.
        """
        self._clock = clock
        self._events = events
        self._reconnect = reconnect
        self._timeout = timeout
        self._policy = retryPolicy
        self.state = state or ResumeState()
        if name is not None:
            self.state.outbox.append(Outgoing(name.encode("utf-8")))
        self._protocol: ChatClientProtocol | None = None
        self._replies: PendingReplies | None = None
        self._producer: _Throttle | None = None
        self._pastErrors = 0
        self._connectedOnce = False
        self._stopping = False
        self._relogin: IDelayedCall | None = None
        self._takenSince: float | None = None
        self._takenAttempts = 0
        #: Whether the server ever sent a line: a server that hangs up
        #: without a word on a plaintext connection is most often TLS.
        self.heardFrom = False
        self._service = ClientService(
            endpoint, Factory.forProtocol(lambda: ChatClientProtocol(self)),
            retryPolicy=self._retryDelay, clock=clock,
        )

    async def start(self) -> None:
        """
        Connect for the first time.

        @raise Exception: why the first attempt failed: there is nothing
            to resume yet, and a wrong host or port is better said at once
            than retried.
        """
        self._service.startService()
        try:
            await self._service.whenConnected(failAfterFailures=1)
        except BaseException:
            # The service tells us before it has settled its failure, and
            # cannot be stopped until it has.
            await deferLater(self._clock, 0, self.stop)
            raise

    def stop(self) -> Deferred[None]:
        """
        Hang up and stop reconnecting.
        """
        self._stopping = True
        self._cancelRelogin()
        return self._service.stopService()

    def setProducer(self, producer: IPushProducer) -> None:
        """
        Read the user's input (C{producer}) no faster than the server
        takes it, on this connection and the next ones.
        """
        self._producer = _Throttle(producer)
        if self._protocol is not None:
            self._protocol.transport.registerProducer(self._producer, True)

    def send(self, line: bytes) -> None:
        """
        Send a line the user gave as soon as it can be: now, or once logged
        in (again).  Blank lines are dropped: the server would not answer
        them.
        """
        if not isBlank(line):
            self.state.outbox.append(Outgoing(line))
            self._release()

    @property
    def connected(self) -> bool:
        """
        Whether a connection is up, logged in or not.
        """
        return self._protocol is not None

    @property
    def unanswered(self) -> int:
        """
        How many of the user's lines are not sent or not answered yet.
        """
        return len(self.state.outbox) + (len(self._replies) if self._replies is not None else 0)

    @property
    def idle(self) -> bool:
        """
        Whether the server has answered everything the user gave, on a
        connection that is up and logged in (or never was), with no
        password due.
        """
        replies = self._replies
        return (replies is not None and not self.unanswered and not replies.loggingIn
                and (replies.name is not None or self.state.name is None))

    @property
    def errors(self) -> int:
        """
        How many of the user's lines the server refused, over all
        connections.
        """
        return self._pastErrors + (self._replies.errors if self._replies is not None else 0)

    def connectionMade(self, protocol: ChatClientProtocol) -> None:
        self._protocol, self._replies = protocol, PendingReplies()
        self._connectedOnce = True
        if self._producer is not None:
            protocol.transport.registerProducer(self._producer, True)
        if self.state.name is not None:
            self._login()
        self._release()

    def lineReceived(self, protocol: ChatClientProtocol, line: str) -> None:
        if protocol is not self._protocol:
            return
        self.heardFrom = True
        replies = self._replies
        parsed = parse(line)
        head = replies.head
        asked = (parsed.sent is not None and isinstance(head, Outgoing)
                 and command(head.text) in _HISTORY_COMMANDS)
        wasLoggedIn = replies.name is not None
        answered = replies.received(line)
        new = self.state.isNew(parsed.tags)
        if (isinstance(answered, (Login, Password)) and self.state.name is not None
                and parsed.kind == "ERROR"):
            self._loginRefused(parsed.text)
            return
        if (not wasLoggedIn and isinstance(answered, (Outgoing, Password))
                and parsed.kind == "ERROR"):
            dropped = len(self.state.outbox)
            self.state.outbox.clear()
            password = isinstance(answered, Password)
            self._events.nameRefused(line, replies.candidate if password else answered.text,
                                     password, dropped)
            return
        if new or asked:
            self._events.serverLine(line)
        if replies.name is not None:
            if not wasLoggedIn:
                self._loggedIn(replies.name)
            self.state.name = replies.name
        if replies.passwordWanted:
            password = self._events.password(replies.candidate)
            if password is not None and self._protocol is protocol:
                replies.sentPassword()
                protocol.sendLine(password.encode("utf-8"))
        self._release()

    def connectionLost(self, protocol: ChatClientProtocol, reason: Failure) -> None:
        if protocol is not self._protocol:
            return
        replies, self._protocol, self._replies = self._replies, None, None
        self._pastErrors += replies.errors
        self.state.requeue(replies.takeUnanswered())
        self._cancelRelogin()
        if self._stopping:
            return
        if not self._reconnect or self.state.name is None or _cannotImprove(reason):
            # Nothing to resume, or nothing to gain by trying again.
            self.stop()
            self._events.failed(reason)
        else:
            self._events.disconnected(reason)

    def _retryDelay(self, attempt: int) -> float:
        """
        The service's retry policy: ours, told to the user.
        """
        delay = self._policy(attempt)
        if self._connectedOnce and not self._stopping:
            self._events.reconnecting(delay)
        return delay

    def _login(self) -> None:
        """
        Log in again, on the user's behalf, under the current name.
        """
        self._replies.sentLogin(self.state.name)
        self._protocol.sendLine(self.state.loginLine(self.state.name))

    def _loggedIn(self, name: str) -> None:
        again = self.state.name is not None
        self.state.name = name
        self._takenSince, self._takenAttempts = None, 0
        self._events.loggedIn(name, again)

    def _loginRefused(self, reason: str) -> None:
        """
        Logging in again was refused: retry a name our old connection
        still holds for up to the timeout, wait for the reconnection after
        a passing refusal, and give up on anything else.
        """
        if "is taken" in reason:
            now = self._clock.seconds()
            if self._takenSince is None:
                self._takenSince = now
            self._takenAttempts += 1
            delay = self._policy(self._takenAttempts)
            if now + delay - self._takenSince > self._timeout:
                self._refused(f"{reason} (still, after {now - self._takenSince:.0f} s)")
                return
            self._events.nameTaken(self.state.name, delay)
            self._relogin = self._clock.callLater(delay, self._login)
        elif not any(passing in reason for passing in _PASSING_REFUSALS):
            self._refused(reason)

    def _refused(self, message: str) -> None:
        self.stop()
        self._events.refused(message)

    def _release(self) -> None:
        """
        Send what the user gave, in order, unless a login is under way:
        the server would take the line as a password or a name.
        """
        replies = self._replies
        outbox = self.state.outbox
        while replies is not None and outbox and not replies.loggingIn:
            if replies.name is None and self.state.name is not None:
                return  # Logging in again on the user's behalf.
            outgoing = outbox.popleft()
            if replies.name is None:
                wire = self.state.loginLine(outgoing.text)
            else:
                wire = self.state.wireLine(outgoing)
            replies.sent(outgoing.line, outgoing.clientId)
            self._protocol.sendLine(wire)

    def _cancelRelogin(self) -> None:
        if self._relogin is not None and self._relogin.active():
            self._relogin.cancel()
        self._relogin = None
