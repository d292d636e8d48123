# -*- test-case-name: tests.test_client_protocol -*-
"""
The client side of the wire: lines from the server in, lines to it out,
and knowing which of our lines the server has answered.

The server answers every non-empty line it is sent with exactly one
closing line to the sender: the greeting (or an error) for a name, the
sender's own copy (or an error) for a chat line, and C{OK /command} (or an
error) for a command (docs/protocol.md).  Counting those answers is how a
script piping lines in knows that everything it sent was taken.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

ERROR_PREFIX = "ERROR "

#: Stands for the password among the lines awaiting an answer, so that
#: the password itself is not kept.
_PASSWORD = "\0password"


def isBlank(line: bytes) -> bool:
    """
    Whether the server would ignore C{line} as empty: it strips Unicode
    white space after decoding, so we do the same.
    """
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def answers(sent: str, line: str, name: str) -> bool:
    """
    Whether server line C{line} is the answer to C{sent}, a line sent by
    C{name} once logged in: the sender's own copy of a chat line, action
    or private message, or the C{OK} that ends a command's answer.
    """
    words = line.split(" ", 3)
    if sent.startswith("//") or not sent.startswith("/"):
        text = sent[1:] if sent.startswith("//") else sent
        return len(words) == 4 and words[0] == "MSG" and words[2] == f"<{name}>" and words[3] == text
    command, _, arguments = sent[1:].partition(" ")
    command = command.lower()
    if command == "me":
        return line.split(" ", 4)[:1] == ["ACT"] and line.split(" ", 4)[3:] == [name, arguments.strip()]
    if command == "msg":
        text = arguments.strip().partition(" ")[2].strip()
        return len(words) == 4 and words[0] == "PRIV" and words[1] == f"<{name}>" and words[3] == text
    return line == f"OK /{command}"


class PendingReplies:
    """
    Which of the lines we sent the server has not answered yet.

    @ivar name: the name the server accepted, or C{None} before that.
    @ivar errors: how many of our lines the server refused.
    """

    def __init__(self) -> None:
        self._pending: deque[str] = deque()
        self.name: str | None = None
        self.errors = 0
        self._candidate: str | None = None
        self.passwordWanted = False

    @property
    def loggingIn(self) -> bool:
        """
        Whether a name (or its password) is waiting for the server: lines
        typed meanwhile must wait, or the server would take one of them as
        the password or the next name.
        """
        return self.name is None and (bool(self._pending) or self.passwordWanted)

    def sentPassword(self) -> None:
        """
        Record that the password was sent.
        """
        self.passwordWanted = False
        self._pending.append(_PASSWORD)

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, line: bytes) -> None:
        """
        Record a non-blank line sent to the server.
        """
        self._pending.append(line.decode("utf-8", "replace").strip())

    def received(self, text: str) -> None:
        """
        Match a line from the server against the oldest unanswered one.
        """
        words = text.split(" ")
        if words[0] == "NICK" and len(words) == 3 and words[1] == self.name:
            self.name = words[2]
        if not self._pending:
            return
        head = self._pending[0]
        if text.startswith(ERROR_PREFIX):
            self.errors += 1
        elif self.name is None and text.split(" ")[0] == "AUTH" and head != _PASSWORD:
            self._candidate, self.passwordWanted = head, True
        elif self.name is None:
            # Before login the only other answer is the greeting.
            self.name = self._candidate if head == _PASSWORD else head
        elif not answers(head, text, self.name):
            return
        self._pending.popleft()


class ChatClientProtocol(LineReceiver):
    """
    A connection to a globalchat server, handing every line it receives to
    C{onLine} as text and telling C{onLost} when it ends.
    """

    delimiter = b"\n"
    #: A line from the server longer than this means it is not a
    #: globalchat server, or a hostile one: hang up.
    MAX_LENGTH = 1024 * 1024

    def __init__(
        self, onLine: Callable[[str], None], onLost: Callable[[Failure], None]
    ) -> None:
        self._onLine = onLine
        self._onLost = onLost
        self.replies = PendingReplies()

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        text = line.decode("utf-8", "replace")
        self.replies.received(text)
        self._onLine(text)

    def sendPassword(self, password: str) -> None:
        """
        Answer the server's AUTH with the password.
        """
        self.replies.sentPassword()
        self.sendLine(password.encode("utf-8"))

    def sendChatLine(self, line: bytes) -> bool:
        """
        Send one line, unless the server would ignore it as blank.

        @return: whether it was sent.
        """
        if isBlank(line):
            return False
        self.replies.sent(line)
        self.sendLine(line)
        return True

    def connectionLost(self, reason: Failure) -> None:
        self._onLost(reason)
