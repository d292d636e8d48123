# -*- test-case-name: tests.test_chat_session -*-
"""
The rules one connection lives by: the rate of its lines, when it is cut
off for flooding, its login and idle time-outs, and how much it may be
owed while it does not read.

L{Rules} is the bookkeeping, over times passed in, so every rule is
tested with a number for the time; L{Policed} is what a session does when
a rule is broken (tell the client, log, hang up).
"""

from __future__ import annotations

from collections import deque

from twisted.logger import Logger

from globalchat.policy import Limits, TokenBucket

#: How many of one connection's refused lines are logged one by one; the
#: rest are counted and logged as one summary when it ends.
LOGGED_REFUSALS = 3

#: A client may be owed this many times C{--max-send-buffer} for a moment
#: (L{Limits.slowGrace}) before it is dropped at once.
SLOW_HARD_LIMIT = 4

#: Bytes of one turn's output (L{globalchat.chat.output}) a session
#: queues before it hands them to the transport at once: what a Twisted
#: transport buffers before it pauses a client that does not read, so
#: that the pause comes no later than one such buffer.
HANDOVER_SIZE = 64 * 1024


class Rules:
    """
    One connection's counters against the server's L{Limits}.
    """

    __slots__ = ("limits", "_bucket", "_drops", "_connectedAt", "_lastHeard", "_paused",
                 "_pausedAt", "_unsent", "_queued", "refusals")

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self._bucket = TokenBucket(limits.rate, limits.burst, now)
        #: Times of lines dropped for the rate, made on the first drop:
        #: most connections never need it.
        self._drops: deque[float] | None = None
        self._connectedAt = self._lastHeard = now
        self._paused = False
        self._pausedAt = 0.0
        #: Bytes queued since the client stopped reading.
        self._unsent = 0
        #: Bytes queued while it was reading, not yet handed to the
        #: transport (L{globalchat.chat.output}): not owed, as a
        #: transport's buffer takes them before it pauses.
        self._queued = 0
        #: Refused lines (too long, say) so far, for the log's sake.
        self.refusals = 0

    def heard(self, now: float) -> bool:
        """
        A line came: whether it is within the rate.
        """
        self._lastHeard = now
        return self._bucket.take(now)

    def silentFor(self, now: float) -> float:
        """
        Seconds since the last line came.
        """
        return now - self._lastHeard

    def dropped(self, now: float) -> int:
        """
        A line over the rate was dropped.

        @return: how many were dropped within the flood window.
        """
        if self._drops is None:
            self._drops = deque()
        self._drops.append(now)
        while self._drops[0] <= now - self.limits.floodWindow:
            self._drops.popleft()
        return len(self._drops)

    def refused(self) -> bool:
        """
        A line was refused: whether to log it (the first few only, so that
        one client cannot fill the log).
        """
        self.refusals += 1
        return self.refusals <= LOGGED_REFUSALS

    def flooding(self, drops: int) -> bool:
        """
        Whether that many dropped lines cut the connection off.
        """
        return drops > self.limits.floodLimit

    def timedOut(self, now: float, loggedIn: bool) -> str | None:
        """
        Why the connection is to be closed now, if it is: no name in
        time, or silent for longer than the idle timeout.
        """
        limits = self.limits
        if not loggedIn and now - self._connectedAt >= limits.loginTimeout:
            return f"no name given within {limits.loginTimeout:g} s"
        if limits.idleTimeout is not None and now - self._lastHeard >= limits.idleTimeout:
            return f"idle for {limits.idleTimeout:g} s"
        return None

    def paused(self, now: float) -> None:
        """
        The client stopped reading.
        """
        self._paused = True
        self._pausedAt = now

    def resumed(self) -> None:
        """
        The client caught up.
        """
        self._paused = False
        self._unsent = 0

    def owe(self, size: int) -> bool:
        """
        Count C{size} bytes queued for the client.

        @return: whether there is back-pressure to act on: the client is
            paused (so the bytes are owed), or what is queued for the end
            of the turn reached L{HANDOVER_SIZE}.
        """
        if self._paused:
            self._unsent += size
            return True
        self._queued += size
        return self._queued >= HANDOVER_SIZE

    def handedOver(self) -> None:
        """
        The queued bytes went to the transport, whose buffer now holds
        them and pauses the client if it is not reading.
        """
        self._queued = 0

    @property
    def owed(self) -> int:
        """
        Bytes queued since the client stopped reading.
        """
        return self._unsent

    @property
    def notReading(self) -> bool:
        """
        Whether the client stopped reading.
        """
        return self._paused

    def tooSlow(self, now: float) -> int | None:
        """
        How many bytes the client is owed, if that is more than it may be:
        more than L{SLOW_HARD_LIMIT} times C{--max-send-buffer} at any
        moment, or more than C{--max-send-buffer} after L{Limits.slowGrace}
        seconds of not reading.  Bytes queued for the end of the turn
        count from the moment they are queued, not when they reach the
        transport.
        """
        limits = self.limits
        if self._paused and (self._unsent > SLOW_HARD_LIMIT * limits.maxSendBuffer or (
                self._unsent > limits.maxSendBuffer and now - self._pausedAt >= limits.slowGrace)):
            return self._unsent
        return None


class Policed:
    """
    The part of a L{globalchat.chat.session.Session} that enforces its
    L{Rules}: a base class, so that the session's hot paths need no extra
    call to reach them.
    """

    __slots__ = ()

    log = Logger()

    def lineTooLong(self, limit: int) -> None:
        """
        The transport dropped a line longer than C{limit} bytes: it counts
        against the rate like any other.
        """
        if not self._withinRate():
            return
        if self._rules.refused():
            self.log.info("{peer} sent a line too long", peer=self.connection.peer)
        self.drop("too-long", f"line too long (max {limit} bytes)")

    def drop(self, reason: str, error: str) -> None:
        """
        Drop a line for C{reason} (L{globalchat.chat.counters.DROP_REASONS}),
        counted, and tell the client C{error}.
        """
        self._hub.counters.dropped[reason] += 1
        self.reply(self.render.error(error))

    def _withinRate(self) -> bool:
        """
        Whether a line that came may be handled: the connection is open
        and the line within the rate (one over it is dropped, and counted
        towards cutting the connection off).
        """
        if self._closed:
            return False
        self._hub.counters.linesIn += 1
        now = self._admission.clock.seconds()
        if not self._rules.heard(now):
            self._flooded(now)
            return False
        return True

    def _flooded(self, now: float) -> None:
        """
        A line over the rate limit: drop it, say so once, and cut off a
        connection that keeps on.
        """
        self._hub.counters.dropped["rate"] += 1
        drops = self._rules.dropped(now)
        if drops == 1:
            self.reply(self.render.error(f"too many lines, slow down (at most "
                                  f"{self._rules.limits.rate:g} a second); lines dropped"))
        if self._rules.flooding(drops):
            self.log.warn("{peer} cut off for flooding", peer=self.connection.peer,
                          security="flood")
            self._write(self.render.error("flooding: disconnected"))
            self.close()
            self._admission.strike(self)

    def checkTimeouts(self, now: float) -> None:
        """
        Close a connection whose time is up, or that stopped reading for
        too long.
        """
        if self._closed or self._tooSlow(now):
            return
        reason = self._rules.timedOut(now, self.loggedInFully)
        if reason is not None:
            self.log.info("{peer}: {reason}", peer=self.connection.peer, reason=reason,
                          security="timeout")
            self._write(self.render.error(reason))
            self.close()

    def _tooSlow(self, now: float) -> bool:
        """Drop the connection if the client is owed more than it may be."""
        owed = self._rules.tooSlow(now)
        if owed is None:
            return False
        self.log.warn("{peer} dropped: it stopped reading ({size} bytes unsent)",
                      peer=self.connection.peer, size=owed, security="slow-reader")
        self._closed = True
        self._out = None
        self.connection.abort()
        return True

    def idle(self) -> float:
        """
        Seconds since it last sent a line.
        """
        return self._rules.silentFor(self._admission.clock.seconds())

    @property
    def owed(self) -> int:
        """
        Bytes written to it since it stopped reading.
        """
        return self._rules.owed

    def pauseProducing(self) -> None:
        """The transport's buffer is full: the client is not reading."""
        self._rules.paused(self._admission.clock.seconds())

    def resumeProducing(self) -> None:
        """The transport's buffer drained."""
        self._rules.resumed()
