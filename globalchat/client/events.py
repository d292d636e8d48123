# -*- test-case-name: tests.test_client_session -*-
"""
What a chat session tells the program around it.

L{globalchat.client.session.ChatSession} keeps the connection and the
bookkeeping; what the user sees, what is asked of them and when the
command ends are decided by whoever implements L{SessionEvents}
(L{globalchat.client.cli.Client}, or a test's recorder).
"""

from __future__ import annotations

from typing import Protocol

from twisted.python.failure import Failure


class SessionEvents(Protocol):
    """
    What a L{ChatSession} tells its user interface.
    """

    def serverLine(self, line: str) -> None:
        """
        A server line to show, tags included; stored messages shown
        already are left out.
        """

    def loggedIn(self, name: str, again: bool) -> None:
        """
        The server accepted C{name}; C{again} after a reconnection.
        """

    def disconnected(self, reason: Failure) -> None:
        """
        The connection dropped; reconnecting follows.
        """

    def reconnecting(self, delay: float) -> None:
        """
        The next connection attempt is in C{delay} seconds.
        """

    def nameRefused(self, line: str, name: str, password: bool, dropped: int) -> None:
        """
        The server refused the first login: the name C{name}, or, if
        C{password}, the password given for it; C{line} is its C{ERROR}
        line, not shown as a server line, so that the interface can say
        it in its own words.  The C{dropped} lines given while the name
        was waiting for its answer were dropped: they were meant as chat,
        and the server would take the first as the next name.  The next
        line given is the name again.
        """

    def nameTaken(self, name: str, delay: float) -> None:
        """
        Logging in again was refused because the server still holds our
        old connection; the next try is in C{delay} seconds.
        """

    def failed(self, reason: Failure) -> None:
        """
        The connection failed in a way reconnecting cannot cure (or
        reconnecting is off); the session has stopped.
        """

    def refused(self, message: str) -> None:
        """
        The server refused to log us in again, for good; the session has
        stopped.
        """

    def password(self, name: str) -> str | None:
        """
        The password the server asked for (C{AUTH name}): the account's
        when C{name} is an account, the server's otherwise; C{None} if
        there is none to give (the interface then ends the session).
        """
