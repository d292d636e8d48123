"""
The exceptions the chat logic raises for a refused line.
"""

from __future__ import annotations


class ChatError(Exception):
    """
    The client's line was refused; C{str()} is the explanation it is sent
    on an C{ERROR} line.

    @ivar reason: which rule refused it, as a word (C{"name-taken"},
        C{"invite-only"}, ...), for protocols that answer each rule with
        its own code (IRC's numerics); C{None} when no more is said.
    """

    reason: str | None = None

    def __init__(self, text: str = "", reason: str | None = None) -> None:
        super().__init__(text)
        if reason is not None:
            self.reason = reason


class WrongPassword(ChatError):
    """
    A login's credentials were refused: besides the answer, a strike
    against the client's address.
    """

    reason = "wrong-password"


class ControlCharacters(ChatError):
    """
    A line held control characters (escape sequences): besides the
    answer, counted among the dropped lines.
    """
