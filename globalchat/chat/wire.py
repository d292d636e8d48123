# -*- test-case-name: tests.test_chat_wire -*-
"""
The lines the server sends, each formatted in exactly one place.

After the greeting, every line starts with a word that says what it is,
from the closed set below, so a program can dispatch on the first word
and a person reading C{nc} output still reads plain text (the choice, and
IRC's and SMTP's influence on it, is explained in docs/protocol.md):

    MSG #room <name> text        ACT #room * name text
    PRIV <from> @to text         JOIN #room name
    PART #room name [reason]     QUIT name [reason]
    NICK old new                 TOPIC #room name text
    ROOM #room count [topic]     WHO #room name...
    INFO text                    OK /command
    AUTH name                    ERROR text

Stored messages shown again come as C{HIST time line}.  A line may be
prefixed with C{@key=value;...} tags (message ids), for clients that ask
for them; readers skip a leading word that starts with C{@}.

Every function returns finished bytes, line ending included, so a message
for a whole room is encoded once and the same object is written to every
member.
"""

from __future__ import annotations

import time

#: Lines end in CRLF so that telnet-style tools and C{nc} both show them.
EOL = b"\r\n"

DEFAULT_GREETING = "Hello Good morning !!!! ::: {name}"

#: The first words of server lines after the greeting.
TYPES = frozenset(
    {"MSG", "ACT", "PRIV", "JOIN", "PART", "QUIT", "NICK", "TOPIC", "ROOM", "WHO",
     "INFO", "OK", "ERROR", "AUTH", "HIST"}
)


def line(text: str) -> bytes:
    """
    Encode one line of text for the wire.
    """
    return text.encode("utf-8") + EOL


#: The commands that send a message (and so may carry a client id).
MESSAGE_COMMANDS = frozenset({"me", "msg"})


def parseTags(text: str) -> tuple[dict[str, str], str]:
    """
    Split a line (the client's or the server's) into its leading
    C{@key=value;key} tags and the rest; a key without a value maps to
    C{""}.
    """
    if not text.startswith("@"):
        return {}, text
    head, _, rest = text.partition(" ")
    tags = {}
    for item in head[1:].split(";"):
        key, _, value = item.partition("=")
        if key:
            tags[key] = value
    return tags, rest.lstrip()


def isMessageLine(text: str) -> bool:
    """
    Whether a logged-in client's line is a message the server stores (a
    chat line, C{//} line, C{/me} or C{/msg}): its answer is its stored
    copy, and it may carry a client id.
    """
    text = parseTags(text)[1]
    if not text.startswith("/") or text.startswith("//"):
        return True
    return text[1:].partition(" ")[0].lower() in MESSAGE_COMMANDS


def tagged(tags: str, data: bytes) -> bytes:
    """
    C{data} (a finished line) prefixed with C{tags} (C{key=value;...}).
    """
    return b"@" + tags.encode("ascii") + b" " + data


def history(when: float, data: bytes) -> bytes:
    """
    A stored message shown again: C{HIST}, the UTC time it was sent, and
    the line (finished bytes) it was sent as.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
    return b"HIST " + stamp.encode("ascii") + b" " + data


def _tail(text: str) -> str:
    return f" {text}" if text else ""


def greeting(template: str, name: str) -> bytes:
    """
    The welcome a client gets once its name is accepted: the configured
    text exactly, with no type word.
    """
    return line(template.format(name=name))


def message(room: str, name: str, text: str) -> bytes:
    return line(f"MSG #{room} <{name}> {text}")


def action(room: str, name: str, text: str) -> bytes:
    return line(f"ACT #{room} * {name} {text}")


def private(sender: str, recipient: str, text: str) -> bytes:
    return line(f"PRIV <{sender}> @{recipient} {text}")


def joined(room: str, name: str) -> bytes:
    return line(f"JOIN #{room} {name}")


def parted(room: str, name: str, reason: str = "") -> bytes:
    return line(f"PART #{room} {name}{_tail(reason)}")


def quit(name: str, reason: str = "") -> bytes:
    return line(f"QUIT {name}{_tail(reason)}")


def renamed(old: str, new: str) -> bytes:
    return line(f"NICK {old} {new}")


def topic(room: str, name: str, text: str) -> bytes:
    return line(f"TOPIC #{room} {name} {text}")


def roomInfo(room: str, members: int, topicText: str) -> bytes:
    return line(f"ROOM #{room} {members}{_tail(topicText)}")


def who(room: str, names: list[str]) -> bytes:
    return line(f"WHO #{room} {' '.join(names)}")


def auth(name: str) -> bytes:
    """
    The server wants the password (C{--password-file}) before accepting
    C{name}; the client's next line is taken as the password.
    """
    return line(f"AUTH {name}")


def info(text: str) -> bytes:
    return line(f"INFO{_tail(text)}")


def ok(command: str) -> bytes:
    """
    The last line of the answer to a command: the client's confirmation.
    """
    return line(f"OK /{command}")


def error(text: str) -> bytes:
    """
    A refused line; the connection stays up.
    """
    return line(f"ERROR {text}")


def messageTags(message) -> str:
    """
    The tags of a stored message (a L{globalchat.store.interface.Message}):
    its id and the sender's own id for it.
    """
    if message.clientId is None:
        return f"id={message.id}"
    return f"id={message.id};cid={message.clientId}"
