# -*- test-case-name: tests.test_chat_hub -*-
"""
Who is connected and where each line goes.

The hub only ever sees decoded text and L{IParticipant}s.  A participant
is whatever can take finished bytes: the network protocol in production,
a list in the tests.
"""

from __future__ import annotations

import unicodedata

from twisted.logger import Logger
from zope.interface import Attribute, Interface

from globalchat.chat import wire


class IParticipant(Interface):
    """
    One connected client, as the chat logic sees it.
    """

    peer = Attribute("A printable address of the client, for logs.")

    def send(data: bytes) -> None:
        """
        Deliver finished wire bytes to this client.
        """


class ChatError(Exception):
    """
    The client's line was refused; C{str()} is the explanation it is sent.
    """


def checkText(text: str) -> None:
    """
    Refuse text that would let one user mess with another's terminal.

    Control characters (escape sequences above all) are how a line of chat
    repaints or hides a recipient's screen when read with C{nc}; a tab is
    harmless and allowed.

    @raise ChatError: if C{text} contains a control character.
    """
    for char in text:
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise ChatError("control characters are not allowed")


class Session:
    """
    One client's conversation with the hub, from its first line on.

    @ivar name: the name the client logged in with, or C{None} before that.
    """

    __slots__ = ("_hub", "participant", "name")

    def __init__(self, hub: Hub, participant: IParticipant) -> None:
        self._hub = hub
        self.participant = participant
        self.name: str | None = None

    def lineReceived(self, text: str) -> None:
        """
        Handle one line of text from the client.

        The first line is the client's name; every later one is said to
        everybody.  A refused line is answered with one error line and
        the connection carries on.
        """
        text = text.strip()
        if not text:
            return
        try:
            checkText(text)
            if self.name is None:
                self._hub._login(self, text)
            else:
                self._hub._say(self, text)
        except ChatError as e:
            self.participant.send(wire.error(str(e)))

    def disconnected(self) -> None:
        """
        The client went away; tell the others if it had logged in.
        """
        self._hub._leave(self)


class Hub:
    """
    The state of the chat: who is logged in.

    @ivar greeting: the template the welcome line is made from.
    """

    log = Logger()

    def __init__(self, greeting: str = wire.DEFAULT_GREETING) -> None:
        self.greeting = greeting
        self._members: list[Session] = []

    def connect(self, participant: IParticipant) -> Session:
        """
        A client connected; its session waits for a name.
        """
        return Session(self, participant)

    @property
    def names(self) -> list[str]:
        """
        The names of everybody logged in, in order of arrival.
        """
        return [session.name for session in self._members]

    def _login(self, session: Session, name: str) -> None:
        session.name = name
        self.log.info(
            "{peer} logged in as {name}", peer=session.participant.peer, name=name
        )
        session.participant.send(wire.greeting(self.greeting, name))
        self._broadcast(wire.joined(name), self._members)
        self._members.append(session)

    def _say(self, session: Session, text: str) -> None:
        self._broadcast(wire.message(session.name, text), self._members)

    def _leave(self, session: Session) -> None:
        if session.name is None or session not in self._members:
            return
        self._members.remove(session)
        self._broadcast(wire.left(session.name), self._members)

    def _broadcast(self, data: bytes, sessions: list[Session]) -> None:
        """
        Give the same bytes to every session; one failing recipient must
        not keep the line from the others.
        """
        for session in list(sessions):
            try:
                session.participant.send(data)
            except Exception:
                self.log.failure(
                    "delivery to {peer} failed", peer=session.participant.peer
                )
