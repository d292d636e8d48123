# -*- test-case-name: tests.test_identity_accounts -*-
"""
Slowing down password guessing: after each failed login, the account
and the address it came from must wait longer before the next try.
"""

from __future__ import annotations

from twisted.internet.interfaces import IReactorTime

from globalchat.chat.errors import ChatError

#: The longest wait, in seconds, however many failures.
MAX_WAIT = 300.0

#: Failures older than this are forgotten.
MEMORY = 600.0


class LoginThrottle:
    """
    Exponential back-off per account and per address: after n failures
    within L{MEMORY} seconds, the next try waits 2**(n-1) seconds (at most
    L{MAX_WAIT}).
    """

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        #: (failures, time of the last) by "account:KEY" or "address:HOST".
        self._failures: dict[str, tuple[int, float]] = {}

    def _wait(self, who: str, now: float) -> float:
        failures, last = self._failures.get(who, (0, 0.0))
        if not failures or now - last >= MEMORY:
            self._failures.pop(who, None)
            return 0.0
        return max(0.0, last + min(MAX_WAIT, 2.0 ** (failures - 1)) - now)

    def check(self, account: str, host: str) -> None:
        """
        @raise ChatError: saying when to try again, if it is too soon.
        """
        now = self._clock.seconds()
        wait = max(self._wait(f"account:{account}", now), self._wait(f"address:{host}", now))
        if wait > 0:
            raise ChatError(f"too many failed logins; try again in {max(1, round(wait))} s",
                            "throttled")

    def failed(self, account: str, host: str) -> None:
        now = self._clock.seconds()
        for who in (f"account:{account}", f"address:{host}"):
            failures, last = self._failures.get(who, (0, now))
            if now - last >= MEMORY:
                failures = 0
            self._failures[who] = (failures + 1, now)

    def succeeded(self, account: str) -> None:
        self._failures.pop(f"account:{account}", None)
