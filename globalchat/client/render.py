# -*- test-case-name: tests.test_client_render -*-
"""
Server lines as a person wants to read them.

The wire format (docs/protocol.md) is plain enough for C{nc}, but a
terminal deserves timestamps and colour; a pipe gets the same text
without either, so scripts can match it.  C{--raw} skips all of this.

Tags (message ids) are for programs and are not shown.  A stored message
shown again (C{HIST}) carries the time it was sent, which is the time
shown, and is dimmed on a terminal so that it does not pass for news.
"""

from __future__ import annotations

import calendar
import time

from globalchat.chat.wire import parseTags

_COLOURS = (31, 32, 33, 34, 35, 36)
_DIM = 2
_RESET = "\x1b[0m"
_HIST_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _colour(code: int, text: str, enabled: bool) -> str:
    return f"\x1b[{code}m{text}{_RESET}" if enabled else text


def _nameColour(name: str) -> int:
    return _COLOURS[sum(name.encode("utf-8")) % len(_COLOURS)]


def render(line: str, colour: bool = False, stamp: float | None = None,
           now: float | None = None) -> str | None:
    """
    The human form of one server line, or C{None} for a line not worth
    showing (the C{OK} that ends a command's answer).

    @param colour: use ANSI colours (a terminal).
    @param stamp: prefix this time as C{HH:MM} (a terminal).
    @param now: the current time, to tell a stored message of another day
        by its date (default: the clock).
    """
    line = parseTags(line)[1]
    if line.startswith("HIST "):
        return _renderStored(line, colour, time.time() if now is None else now)
    words = line.split(" ")
    kind = words[0]

    def who(name: str) -> str:
        return _colour(_nameColour(name), name, colour)

    def room(name: str) -> str:
        return _colour(2, name, colour)

    if kind == "OK":
        return None
    if kind in ("MSG", "ACT", "TOPIC") and len(words) >= 3:
        rest = line.split(" ", 3)[3] if len(words) > 3 else ""
        if kind == "MSG":
            text = f"{room(words[1])} <{who(words[2][1:-1])}> {rest}"
        elif kind == "ACT":
            name, _, action = rest.partition(" ")
            text = f"{room(words[1])} * {who(name)} {action}"
        else:
            text = f"{room(words[1])} topic: {rest}" + (f" (set by {who(words[2])})" if words[2] != "-" else "")
    elif kind == "PRIV" and len(words) > 3:
        said = line.split(" ", 3)[3]
        text = (_colour(35, "[private] ", colour)
                + f"<{who(words[1][1:-1])}> to {who(words[2][1:])}: {said}")
    elif kind in ("JOIN", "PART") and len(words) >= 3:
        reason = line.split(" ", 3)[3] if len(words) > 3 else ""
        verb = "joined" if kind == "JOIN" else "left"
        text = f"{room(words[1])} {who(words[2])} {verb}" + (f" ({reason})" if reason else "")
    elif kind == "QUIT" and len(words) >= 2:
        reason = line.split(" ", 2)[2] if len(words) > 2 else ""
        text = f"{who(words[1])} quit" + (f" ({reason})" if reason else "")
    elif kind == "NICK" and len(words) == 3:
        text = f"{who(words[1])} is now known as {who(words[2])}"
    elif kind == "ROOM" and len(words) >= 3:
        topic = line.split(" ", 3)[3] if len(words) > 3 else ""
        text = f"{room(words[1])} ({words[2]})" + (f" {topic}" if topic else "")
    elif kind == "WHO" and len(words) >= 2:
        text = f"{room(words[1])}: {', '.join(who(n) for n in words[2:] if n)}"
    elif kind == "AUTH" and len(words) == 2:
        text = f"{words[1]} needs the server's password"
    elif kind == "INFO":
        text = line[5:]
    elif kind == "ERROR":
        text = _colour(31, "error: " + line[6:], colour)
    else:
        text = line
    if stamp is not None:
        text = time.strftime("%H:%M ", time.localtime(stamp)) + text
    return text


def _renderStored(line: str, colour: bool, now: float) -> str:
    """
    C{HIST TIME MESSAGE}: the message, after the local time it was sent
    (and its date, if not today), dimmed in colour.
    """
    parts = line.split(" ", 2)
    try:
        _, sent, message = parts
        when = calendar.timegm(time.strptime(sent, _HIST_TIME))
    except ValueError:
        return line
    local = time.localtime(when)
    shape = "%H:%M" if local[:3] == time.localtime(now)[:3] else "%Y-%m-%d %H:%M"
    text = f"[{time.strftime(shape, local)}] {render(message) or message}"
    return _colour(_DIM, text, colour)
