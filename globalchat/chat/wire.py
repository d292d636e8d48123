# -*- test-case-name: tests.test_chat_wire -*-
"""
The lines the server sends, each formatted in exactly one place.

Every function returns the finished bytes, line ending included, so a
message for a whole room is encoded once and the same object is written
to every member.
"""

from __future__ import annotations

#: Lines end in CRLF so that telnet-style tools and C{nc} both show them.
EOL = b"\r\n"

DEFAULT_GREETING = "Hello Good morning !!!! ::: {name}"


def line(text: str) -> bytes:
    """
    Encode one line of text for the wire.
    """
    return text.encode("utf-8") + EOL


def greeting(template: str, name: str) -> bytes:
    """
    The welcome a client gets once its name is accepted.
    """
    return line(template.format(name=name))


def message(name: str, text: str) -> bytes:
    """
    A chat line from C{name}.
    """
    return line(f"<{name}> {text}")


def joined(name: str) -> bytes:
    """
    Tells the others that C{name} arrived.
    """
    return line(f"* {name} joined")


def left(name: str) -> bytes:
    """
    Tells the others that C{name} went away.
    """
    return line(f"* {name} left")


def error(text: str) -> bytes:
    """
    An error about the line the client just sent; the connection stays up.
    """
    return line(f"ERROR {text}")
