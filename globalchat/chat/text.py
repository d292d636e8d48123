# -*- test-case-name: tests.test_chat_text -*-
"""
What a client's text may hold, and how a number in it is read.

Both are checks on untrusted input that every command and every transport
shares, so each is made in exactly one place.
"""

from __future__ import annotations

import re

from globalchat.chat.errors import ChatError, ControlCharacters

#: Unicode's control characters (category Cc) but tab, and the line and
#: paragraph separators, which some terminals and pages break lines at.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")

#: The explicit bidirectional formatting characters: embeddings and
#: overrides (closed by U+202C) and isolates (closed by U+2069).  They can
#: make a line read in another order than it was written.
_OPENERS = {"\u202a": "\u202c", "\u202b": "\u202c", "\u202d": "\u202c", "\u202e": "\u202c",
            "\u2066": "\u2069", "\u2067": "\u2069", "\u2068": "\u2069"}
_CLOSERS = frozenset(_OPENERS.values())
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

#: ASCII digits only: C{str.isdigit} and C{int} also take other scripts'
#: digits and superscripts (C{"²".isdigit()} is true, C{int("²")} fails).
_DIGITS = re.compile(r"[0-9]{1,18}")


def checkText(text: str) -> None:
    """
    Refuse text that would let one user mess with another's terminal.

    Control characters (escape sequences above all) are how a line of chat
    repaints or hides a recipient's screen when read with C{nc}; a tab is
    harmless and allowed.

    @raise ControlCharacters: if C{text} contains a control character.
    """
    if _CONTROL.search(text) is not None:
        raise ControlCharacters("control characters are not allowed")


def checkNoBidi(text: str, what: str) -> None:
    """
    Refuse bidirectional formatting characters in C{what} (a topic): text
    shown beside others' that could reorder what is around it.

    @raise ChatError: if C{text} has one.
    """
    if _BIDI.search(text) is not None:
        raise ChatError(f"{what} may not contain bidirectional formatting characters")


def balanceBidi(text: str) -> str:
    """
    C{text} (a message) with its bidirectional formatting kept to itself:
    a closer with no opener is dropped, and what is left open is closed at
    the end, so that no message reorders the rest of a reader's line.
    """
    if _BIDI.search(text) is None:
        return text
    out: list[str] = []
    open_: list[str] = []
    for char in text:
        if char in _OPENERS:
            open_.append(_OPENERS[char])
        elif char in _CLOSERS:
            if not open_ or open_[-1] != char:
                continue
            open_.pop()
        out.append(char)
    return "".join(out) + "".join(reversed(open_))


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
