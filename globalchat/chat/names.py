# -*- test-case-name: tests.test_chat_hub,tests.test_chat_properties -*-
"""
What a user name or a room name may be, and when two are the same.

User names are compared after PRECIS UsernameCaseMapped folding (RFC
8265: width mapping, lower case, NFC; the precis-i18n package), so
C{John}, C{JOHN} and C{Ｊｏｈｎ} (full-width) are one name: nobody can
pass for someone else with a look-alike spelling of this kind.  Names
that only look alike (C{alice} and C{аlice} with a Cyrillic a) differ,
but have the same L{skeleton}, which is what look-alikes are refused by.
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import precis_i18n

from globalchat.chat.errors import ChatError

MAX_NAME = 32
_PUNCTUATION = set("_-.")


_PRECIS = precis_i18n.get_profile("UsernameCaseMapped")


@lru_cache(maxsize=65536)
def key(name: str) -> str:
    """
    The form two names are compared in: PRECIS UsernameCaseMapped, applied
    until it no longer changes (as RFC 8265 allows it to need); for text
    PRECIS refuses (a room name, a name being looked up), NFKC and case
    folding.
    """
    try:
        for _ in range(4):
            folded = _PRECIS.enforce(name)
            if folded == name:
                break
            name = folded
        return folded
    except UnicodeError:
        return unicodedata.normalize("NFKC", name).casefold()


#: Digits that pass for letters in most fonts.
_ASCII_ALIKE = {"0": "o", "1": "l"}


@lru_cache(maxsize=1)
def _prototypes() -> dict[str, str]:
    """
    For each character that Unicode's confusables list (UTS #39, as the
    confusable-homoglyphs package ships it) says looks like an ASCII letter
    or digit, that letter in lower case: C{а} (Cyrillic) and C{A} become
    C{a}, capital C{I} becomes C{l}.
    """
    data = json.loads(resources.files("confusable_homoglyphs")
                      .joinpath("confusables.json").read_text(encoding="utf-8"))
    prototypes = {}
    for character, entries in data.items():
        # An entry is a look-alike, or a group of them by script.
        alike = {g["c"] for e in entries for g in e.get("homoglyphs", [e])}
        ascii_ = sorted(c for c in alike if len(c) == 1 and c.isascii() and c.isalnum())
        lower = [c for c in ascii_ if c.islower()]
        if character.isascii() and not character.isupper():
            continue
        if lower:
            prototypes[character] = lower[0]
        elif ascii_:
            prototypes[character] = ascii_[0].lower()
    return prototypes


def load() -> None:
    """
    Read the look-alike table now, as a server starts, rather than at its
    first login: parsing the large file it comes from leaves a few
    megabytes behind, which belong to the server, not to its first
    connections (nor should the first login wait for it).
    """
    _prototypes()


def skeleton(name: str) -> str:
    """
    What C{name} looks like: two names with the same skeleton are easily
    taken for each other, whatever script or case their letters are in.
    """
    prototypes = _prototypes()
    shape = (prototypes.get(c, c) for c in unicodedata.normalize("NFKC", name))
    return "".join(_ASCII_ALIKE.get(c, c) for c in "".join(shape).casefold())


def _precis(name: str) -> bool:
    try:
        _PRECIS.enforce(name)
    except UnicodeError:
        return False
    return True


def _valid(name: str) -> bool:
    return 0 < len(name) <= MAX_NAME and all(
        c in _PUNCTUATION or unicodedata.category(c)[0] in "LN" for c in name
    )


def checkName(name: str) -> str:
    """
    Return C{name} if it is a valid user name.

    @raise ChatError: naming the rule it breaks.
    """
    if not _valid(name) or not _precis(name):
        raise ChatError(
            f"invalid name {name[:40]!r}: use 1-{MAX_NAME} letters, digits, '_', '-' or '.'",
            "bad-name")
    return name


def checkRoom(room: str) -> str:
    """
    Return the room name (without a leading C{#}) if it is valid.

    @raise ChatError: naming the rule it breaks.
    """
    name = room[1:] if room.startswith("#") else room
    if not _valid(name):
        raise ChatError(
            f"invalid room {room[:40]!r}: use 1-{MAX_NAME} letters, digits, '_', '-' or '.'",
            "bad-room")
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
