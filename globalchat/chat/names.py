# -*- test-case-name: tests.test_chat_hub,tests.test_chat_properties -*-
"""
What a user name or a room name may be, and when two are the same.

Names are compared after NFKC normalisation and case folding, so
C{John}, C{JOHN} and C{Ｊｏｈｎ} (full-width) are one name: nobody can
pass for someone else with a look-alike spelling of this kind.
"""

from __future__ import annotations

import re
import unicodedata

from globalchat.chat.errors import ChatError

MAX_NAME = 32
_PUNCTUATION = set("_-.")


def key(name: str) -> str:
    """
    The form two names are compared in.
    """
    return unicodedata.normalize("NFKC", name).casefold()


def _valid(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and all(
        c in _PUNCTUATION or unicodedata.category(c)[0] in "LN" for c in name
    )


def checkName(name: str) -> str:
    """
    Return C{name} if it is a valid user name.

    @raise ChatError: naming the rule it breaks.
    """
    if not _valid(name):
        raise ChatError(
            f"invalid name {name[:40]!r}: use 1-{MAX_NAME} letters, digits, '_', '-' or '.'"
        )
    return name


def checkRoom(room: str) -> str:
    """
    Return the room name (without a leading C{#}) if it is valid.

    @raise ChatError: naming the rule it breaks.
    """
    name = room[1:] if room.startswith("#") else room
    if not _valid(name):
        raise ChatError(
            f"invalid room {room[:40]!r}: use 1-{MAX_NAME} letters, digits, '_', '-' or '.'"
        )
    return name


_CLIENT_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def checkClientId(clientId: str) -> str:
    """
    Return C{clientId} if it is a valid client-chosen message id.

    @raise ChatError: if it is not.
    """
    if _CLIENT_ID.fullmatch(clientId) is None:
        raise ChatError("id= takes 1-64 letters, digits, '.', '_', '-' or ':'")
    return clientId
