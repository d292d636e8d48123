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

import time

from globalchat.chat.wire import ServerLine, parse

_COLOURS = (31, 32, 33, 34, 35, 36)
_DIM = 2
_RESET = "\x1b[0m"


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
    parsed = parse(line)
    if parsed.sent is not None:
        return _renderStored(parsed, colour, time.time() if now is None else now)
    text = _describe(parsed, colour)
    if text is not None and stamp is not None:
        text = time.strftime("%H:%M ", time.localtime(stamp)) + text
    return text


def _describe(line: ServerLine, colour: bool) -> str | None:
    """
    What C{line} says, in words.
    """
    def who(name: str) -> str:
        return _colour(_nameColour(name), name, colour)

    def why(reason: str) -> str:
        return f" ({reason})" if reason else ""

    kind, text = line.kind, line.text
    room = _colour(2, f"#{line.room}", colour)
    if kind == "OK":
        return None
    if kind == "MSG":
        return f"{room} <{who(line.name)}> {text}"
    if kind == "ACT":
        return f"{room} * {who(line.name)} {text}"
    if kind == "TOPIC":
        return f"{room} topic: {text}" + (f" (set by {who(line.name)})" if line.name != "-" else "")
    if kind == "PRIV":
        return _colour(35, "[private] ", colour) + f"<{who(line.name)}> to {who(line.target)}: {text}"
    if kind in ("JOIN", "PART"):
        return f"{room} {who(line.name)} {'joined' if kind == 'JOIN' else 'left'}" + why(text)
    if kind == "QUIT":
        return f"{who(line.name)} quit" + why(text)
    if kind == "NICK":
        return f"{who(line.name)} is now known as {who(line.target)}"
    if kind == "ROOM":
        return f"{room} ({line.count})" + (f" {text}" if text else "")
    if kind == "WHO":
        return f"{room}: {', '.join(who(name) for name in line.names)}"
    if kind == "AUTH":
        return f"{line.name} needs a password"
    if kind == "INFO":
        return text
    if kind == "ERROR":
        return _colour(31, "error: " + text, colour)
    return line.line


def _renderStored(line: ServerLine, colour: bool, now: float) -> str:
    """
    C{HIST TIME MESSAGE}: the message, after the local time it was sent
    (and its date, if not today), dimmed in colour.
    """
    local = time.localtime(line.sent)
    shape = "%H:%M" if local[:3] == time.localtime(now)[:3] else "%Y-%m-%d %H:%M"
    return _colour(_DIM, f"[{time.strftime(shape, local)}] {_describe(line, False)}", colour)
