# -*- test-case-name: tests.test_irc_queries -*-
"""
Following who is logged in: what the hub tells its watchers, for
protocols whose clients follow names across the whole server (IRC's
MONITOR and account-notify).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from zope.interface import Interface

if TYPE_CHECKING:
    from globalchat.chat.session import Session


class IPresenceWatcher(Interface):
    """
    Follows who is logged in (L{Hub.watchers}).
    """

    def loggedIn(session: Session) -> None:
        """
        C{session} logged in.
        """

    def loggedOut(session: Session) -> None:
        """
        C{session} logged out (its name is still set).
        """

    def renamed(session: Session, old: str) -> None:
        """
        C{session}, called C{old} until now, changed its name.
        """

    def accountChanged(session: Session) -> None:
        """
        C{session}'s name became an account, or stopped being one.
        """
