# -*- test-case-name: tests.test_chat_text -*-
"""
What a client's text may hold, and how a number in it is read.

Both are checks on untrusted input that every command and every transport
shares, so each is made in exactly one place.
"""

from __future__ import annotations

import re

from globalchat.chat.errors import ChatError

#: Unicode's control characters (category Cc) but tab.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")

#: ASCII digits only: C{str.isdigit} and C{int} also take other scripts'
#: digits and superscripts (C{"²".isdigit()} is true, C{int("²")} fails).
_DIGITS = re.compile(r"[0-9]{1,18}")


def checkText(text: str) -> None:
    """
    Refuse text that would let one user mess with another's terminal.

    Control characters (escape sequences above all) are how a line of chat
    repaints or hides a recipient's screen when read with C{nc}; a tab is
    harmless and allowed.

    @raise ChatError: if C{text} contains a control character.
    """
    if _CONTROL.search(text) is not None:
        raise ChatError("control characters are not allowed")


def isCount(text: str) -> bool:
    """
    Whether C{text} is a whole number written in ASCII digits.
    """
    return _DIGITS.fullmatch(text) is not None


def parseCount(text: str, problem: str) -> int:
    """
    Read a whole number a client sent.

    @param problem: the error to answer with when C{text} is not one.
    @raise ChatError: with C{problem}.
    """
    if not isCount(text):
        raise ChatError(problem)
    return int(text)
