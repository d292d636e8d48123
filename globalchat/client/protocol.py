# -*- test-case-name: tests.test_client_protocol -*-
"""
The client side of the wire: lines from the server in, lines to it out,
and knowing which of our lines the server has answered.

The server answers every non-empty line it is sent with exactly one
closing line to the sender: the greeting (or an error) for a name, the
sender's own copy (or an error) for a chat line, and C{OK /command} (or an
error) for a command (docs/protocol.md).  Counting those answers is how a
script piping lines in knows that everything it sent was taken; an own
copy tagged with our client id (C{cid=}) is how a client resuming after a
dropped connection knows which of its lines were stored.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from globalchat.chat.wire import ServerLine, command, parse


def isBlank(line: bytes) -> bool:
    """
    Whether the server would ignore C{line} as empty: it strips Unicode
    white space after decoding, so we do the same.
    """
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def answers(sent: str, line: ServerLine, name: str) -> bool:
    """
    Whether server line C{line} is the answer to C{sent}, a line sent by
    C{name} once logged in: the sender's own copy of a chat line, action
    or private message, or the C{OK} that ends a command's answer.  A
    stored copy shown again answers only through its client id.
    """
    verb = command(sent)
    arguments = sent[1:].partition(" ")[2].strip()
    if verb is None:
        kind, text = "MSG", sent[1:] if sent.startswith("//") else sent
    elif verb == "me":
        kind, text = "ACT", arguments
    elif verb == "msg":
        kind, text = "PRIV", arguments.partition(" ")[2].strip()
    else:
        return line.kind == "OK" and line.text == verb
    return line.kind == kind and line.sent is None and line.name == name and line.text == text


@dataclass
class Outgoing:
    """
    A line the user gave, on its way to the server: queued, or sent and
    awaiting its answer.

    @ivar clientId: the id it was sent with, kept so that re-sending it
        after a dropped connection lets the server recognise it; C{None}
        until it is first sent, and for lines the server does not store.
    """

    line: bytes
    clientId: str | None = None

    @property
    def text(self) -> str:
        """
        The line as the server reads it.
        """
        return self.line.decode("utf-8", "replace").strip()


@dataclass(frozen=True)
class Login:
    """
    A name sent on the user's behalf when logging in again: answered like a
    typed name, but never re-sent as it is (the next connection sends its
    own).
    """

    text: str


@dataclass(frozen=True)
class Password:
    """
    Stands for the password among the lines awaiting an answer, so that the
    password itself is not kept.
    """

    text: str = ""


Sent = Outgoing | Login | Password


class PendingReplies:
    """
    Which of the lines we sent on one connection the server has not
    answered yet.

    @ivar name: the name the server accepted, or C{None} before that.
    @ivar errors: how many of the user's lines the server refused (a
        refused L{Login} is the caller's business, not the user's).
    @ivar candidate: the name the server last asked a password for
        (C{AUTH name}), or C{None}.
    """

    def __init__(self) -> None:
        self._pending: deque[Sent] = deque()
        self.name: str | None = None
        self.errors = 0
        self.candidate: str | None = None
        self.passwordWanted = False

    @property
    def loggingIn(self) -> bool:
        """
        Whether a name (or its password) is waiting for the server: lines
        typed meanwhile must wait, or the server would take one of them as
        the password or the next name.
        """
        return self.name is None and (bool(self._pending) or self.passwordWanted)

    @property
    def head(self) -> Sent | None:
        """
        The oldest line still awaiting its answer.
        """
        return self._pending[0] if self._pending else None

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, line: bytes, clientId: str | None = None) -> None:
        """
        Record a non-blank line the user gave, sent to the server.
        """
        self._pending.append(Outgoing(line, clientId))

    def sentLogin(self, name: str) -> None:
        """
        Record a name sent on the user's behalf.
        """
        self._pending.append(Login(name))

    def sentPassword(self) -> None:
        """
        Record that the password was sent.
        """
        self.passwordWanted = False
        self._pending.append(Password())

    def takeUnanswered(self) -> list[Outgoing]:
        """
        The user's lines that were not answered, oldest first, to be sent
        again on the next connection; afterwards nothing is pending.
        """
        unanswered = [sent for sent in self._pending if isinstance(sent, Outgoing)]
        self._pending.clear()
        return unanswered

    def received(self, line: str) -> Sent | None:
        """
        Match a line from the server against the oldest unanswered one, or,
        for our own stored copy, against the line with its client id.

        @return: the line it answers, if it answers one.
        """
        parsed = parse(line)
        if parsed.kind == "NICK" and parsed.name == self.name:
            self.name = parsed.target
        if "cid" in parsed.tags:
            return self._acknowledged(parsed.tags["cid"])
        if not self._pending:
            return None
        head = self._pending[0]
        if parsed.kind == "ERROR":
            if not isinstance(head, Login):
                self.errors += 1
        elif self.name is None and parsed.kind == "AUTH" and not isinstance(head, Password):
            self.candidate, self.passwordWanted = head.text, True
        elif self.name is None:
            # Before login the only other answer is the greeting.
            self.name = self.candidate if isinstance(head, Password) else head.text
        elif not isinstance(head, Outgoing) or not answers(head.text, parsed, self.name):
            return None
        return self._pending.popleft()

    def _acknowledged(self, clientId: str) -> Outgoing | None:
        """
        Our own stored copy came back, live or from history: whichever line
        carried C{clientId} is answered, even if older ones are not (their
        answers were lost with an earlier connection).
        """
        for sent in self._pending:
            if isinstance(sent, Outgoing) and sent.clientId == clientId:
                self._pending.remove(sent)
                return sent
        return None


class ConnectionObserver(Protocol):
    """
    What a L{ChatClientProtocol} tells about its connection.
    """

    def connectionMade(self, protocol: ChatClientProtocol) -> None: ...

    def lineReceived(self, protocol: ChatClientProtocol, line: str) -> None: ...

    def connectionLost(self, protocol: ChatClientProtocol, reason: Failure) -> None: ...


class ChatClientProtocol(LineReceiver):
    """
    A connection to a globalchat server, handing every line it receives to
    its observer as text (tags included).
    """

    delimiter = b"\n"
    #: A line from the server longer than this means it is not a
    #: globalchat server, or a hostile one: hang up.
    MAX_LENGTH = 1024 * 1024

    def __init__(self, observer: ConnectionObserver) -> None:
        self._observer = observer

    def connectionMade(self) -> None:
        self._observer.connectionMade(self)

    def lineReceived(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        self._observer.lineReceived(self, line.decode("utf-8", "replace"))

    def connectionLost(self, reason: Failure) -> None:
        self._observer.connectionLost(self, reason)
