# -*- test-case-name: tests.test_chat_session -*-
"""
The rules one connection lives by, as bookkeeping over times: the rate
of its lines, when it is cut off for flooding, its login and idle
time-outs, and how much it may be owed while it does not read.

L{globalchat.chat.session} applies them (it says what happens); this
module only counts, so every rule is tested with a number for the time.
"""

from __future__ import annotations

from collections import deque

from globalchat.policy import Limits, TokenBucket

#: A client may be owed this many times C{--max-send-buffer} for a moment
#: (L{Limits.slowGrace}) before it is dropped at once.
SLOW_HARD_LIMIT = 4


class Rules:
    """
    One connection's counters against the server's L{Limits}.
    """

    __slots__ = ("limits", "_bucket", "_drops", "_connectedAt", "_lastHeard", "_paused",
                 "_pausedAt", "_unsent")

    def __init__(self, limits: Limits, now: float) -> None:
        self.limits = limits
        self._bucket = TokenBucket(limits.rate, limits.burst, now)
        #: Times of lines dropped for the rate, made on the first drop:
        #: most connections never need it.
        self._drops: deque[float] | None = None
        self._connectedAt = self._lastHeard = now
        self._paused = False
        self._pausedAt = 0.0
        self._unsent = 0

    def heard(self, now: float) -> bool:
        """
        A line came: whether it is within the rate.
        """
        self._lastHeard = now
        return self._bucket.take(now)

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
        Count C{size} bytes written to a client that may not be reading.

        @return: whether it is paused (so the bytes are owed).
        """
        if self._paused:
            self._unsent += size
        return self._paused

    def tooSlow(self, now: float) -> int | None:
        """
        How many bytes the client is owed, if that is more than it may be.
        """
        limits = self.limits
        if self._paused and (self._unsent > SLOW_HARD_LIMIT * limits.maxSendBuffer or (
                self._unsent > limits.maxSendBuffer and now - self._pausedAt >= limits.slowGrace)):
            return self._unsent
        return None
