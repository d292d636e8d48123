# -*- test-case-name: tests.test_endpoints -*-
"""
Endpoint strings as users type them (C{--port tcp:12345},
C{--endpoint tls:chat.example.org:12345}).

Twisted's parsers refuse a bad one in Python's own words
(C{invalid literal for int() with base 10: 'abc'}, C{_parseTCP() got an
unexpected keyword argument}), which tell a user neither which part is
wrong nor what a good one looks like.  The server and the client parse
through here and get one line that does both.
"""

from __future__ import annotations

import re
from typing import Callable, TypeVar

from OpenSSL import SSL, crypto
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.interfaces import IStreamClientEndpoint, IStreamServerEndpoint

SERVER_EXAMPLES = "tcp:12345, ssl:12345 or unix:/run/globalchat.sock"
CLIENT_EXAMPLES = "tcp:chat.example.org:12345, tls:chat.example.org:12345 or unix:/run/globalchat.sock"

_Endpoint = TypeVar("_Endpoint")

#: Python's words for what Twisted's parsers trip over, and ours.
_REASONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Unknown endpoint type: '(.*)'"),
     lambda m: f"unknown endpoint type {m.group(1)!r}" if m.group(1) else "no endpoint type"),
    (re.compile(r"invalid literal for int\(\) with base 10: '(.*)'"),
     lambda m: f"{m.group(1)!r} is not a number" if m.group(1) else "a number is missing"),
    (re.compile(r"unexpected keyword argument '(.*)'"),
     lambda m: f"it has no {m.group(1)}= parameter"),
    (re.compile(r"missing \d+ required positional arguments?: (.*)"),
     lambda m: "the {} {} missing".format(m.group(1).replace("'", ""),
                                          "are" if " and " in m.group(1) else "is")),
    (re.compile(r"takes .* positional arguments? but \d+ (?:was|were) given"),
     lambda m: "it has too many ':'-separated parts"),
]


class BadEndpoint(ValueError):
    """
    An endpoint string that cannot be used; the message is one line naming
    it, what is wrong with it and what a good one looks like.
    """


def _reason(error: Exception, examples: str) -> str:
    """
    What is wrong, in a user's words, from the exception a parser raised;
    for a mistake in the string itself, with what a good one looks like.
    """
    if isinstance(error, OSError):
        return f"cannot read {error.filename}: {error.strerror}"
    if isinstance(error, (SSL.Error, crypto.Error)):
        return "its privateKey= and certKey= files are not a PEM key and certificate"
    message = str(error)
    for pattern, explain in _REASONS:
        found = pattern.search(message)
        if found:
            message = explain(found)
            break
    return f"{message}; it should look like {examples}"


def _parsed(parse: Callable[[object, str], _Endpoint], reactor: object, description: str,
            option: str, examples: str, given: str | None) -> _Endpoint:
    shown = description if given is None else given
    try:
        endpoint = parse(reactor, description)
    except (ValueError, TypeError, OSError, SSL.Error, crypto.Error) as e:
        raise BadEndpoint(f"bad {option} {shown!r}: {_reason(e, examples)}") from None
    # Twisted takes any integer as a TCP port and leaves the range to the
    # socket, which complains only once it is used.
    port = getattr(endpoint, "_port", None)
    if isinstance(port, int) and not 0 <= port <= 65535:
        raise BadEndpoint(f"bad {option} {shown!r}: port {port} is not from 0 to 65535")
    return endpoint


def serverEndpoint(reactor: object, description: str, option: str = "--port",
                   given: str | None = None) -> IStreamServerEndpoint:
    """
    Parse a server endpoint string.

    @param given: the string as the user gave it, when C{description} is
        what the server made of it (with a certificate, a listen queue).
    @raise BadEndpoint: when it cannot be used.
    """
    return _parsed(serverFromString, reactor, description, option, SERVER_EXAMPLES, given)


def clientEndpoint(reactor: object, description: str, option: str = "--endpoint") -> IStreamClientEndpoint:
    """
    Parse a client endpoint string.

    @raise BadEndpoint: when it cannot be used.
    """
    return _parsed(clientFromString, reactor, description, option, CLIENT_EXAMPLES, None)
