# -*- test-case-name: tests.test_client_resume -*-
"""
What a client remembers across connections so that a dropped connection
or a server restart loses nothing and shows nothing twice
(docs/protocol.md, "History, acknowledgements and resuming"):

  - the highest message id shown, to log in again with C{@resume=N} and
    to skip a stored message seen already;
  - the name it is logged in as, following C{/nick}, to log in again
    under it;
  - the user's lines not yet sent or not yet answered, each stored line
    with the client id it was first sent with, so that sending it again
    cannot store it twice.

No I/O here: L{globalchat.client.session} does the talking.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Mapping

from globalchat.chat.wire import isMessageLine
from globalchat.client.protocol import Outgoing


class ResumeState:
    """
    The bookkeeping of one client run, over all its connections.

    @ivar lastId: the highest stored message id shown so far.
    @ivar name: the name we were last logged in as, or C{None} before the
        first login.
    @ivar outbox: the user's lines waiting to be sent, oldest first.
    """

    def __init__(self, prefix: str | None = None) -> None:
        """
        @param prefix: starts every client id; random by default, so that
            ids never collide with those of an earlier run under the same
            name.
        """
        self._prefix = prefix or secrets.token_hex(4)
        self._sequence = 0
        self.lastId = 0
        self.name: str | None = None
        self.outbox: deque[Outgoing] = deque()

    def loginLine(self, name: str) -> bytes:
        """
        The first line of a connection logging in as C{name}: asking for
        tags the first time, resuming after the last message shown later.
        """
        tag = "tags" if self.name is None else f"resume={self.lastId}"
        return f"@{tag} {name}".encode("utf-8")

    def wireLine(self, outgoing: Outgoing) -> bytes:
        """
        C{outgoing} as sent once logged in: a line the server stores gets
        a client id the first time and keeps it when sent again.
        """
        if outgoing.clientId is None and isMessageLine(outgoing.text):
            self._sequence += 1
            outgoing.clientId = f"{self._prefix}.{self._sequence}"
        if outgoing.clientId is None:
            return outgoing.line
        return f"@id={outgoing.clientId} ".encode("ascii") + outgoing.line

    def isNew(self, tags: Mapping[str, str]) -> bool:
        """
        Whether a server line with C{tags} is worth showing, recording its
        message id: a stored message whose id is not above every id shown
        so far was shown already (it is the stored copy of a line sent
        again, or arrived both live and from history).
        """
        messageId = tags.get("id", "")
        if not messageId.isdigit():
            return True
        if int(messageId) <= self.lastId:
            return False
        self.lastId = int(messageId)
        return True

    def requeue(self, unanswered: list[Outgoing]) -> None:
        """
        Put lines a dropped connection left unanswered back in front of the
        lines never sent, in their order.
        """
        self.outbox.extendleft(reversed(unanswered))
