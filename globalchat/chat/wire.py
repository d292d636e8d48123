# -*- test-case-name: tests.test_chat_wire -*-
"""
The lines the server sends: each built, and read back, in exactly one place.

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

Every function that makes a line returns finished bytes, line ending
included, so a message for a whole room is encoded once and the same
object is written to every member.  L{parse} takes any of them apart
again, so that the server's shapes are written down once, here, and a
client reads them with the same rules the server writes them by.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Lines end in CRLF so that telnet-style tools and C{nc} both show them.
EOL = b"\r\n"

DEFAULT_GREETING = "Hello Good morning !!!! ::: {name}"

#: How C{HIST} writes the time a stored message was sent (UTC).
HISTORY_TIME = "%Y-%m-%dT%H:%M:%SZ"


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


def command(text: str) -> str | None:
    """
    The lower-case command word of a client's line (without tags), or
    C{None} for a chat line (including one escaped with C{//}).
    """
    if text.startswith("//") or not text.startswith("/"):
        return None
    return text[1:].partition(" ")[0].lower()


def isMessageLine(text: str) -> bool:
    """
    Whether a logged-in client's line is a message the server stores (a
    chat line, C{//} line, C{/me} or C{/msg}): its answer is its stored
    copy, and it may carry a client id.
    """
    verb = command(parseTags(text)[1])
    return verb is None or verb in MESSAGE_COMMANDS


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
    stamp = time.strftime(HISTORY_TIME, time.gmtime(when))
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


@dataclass(frozen=True)
class ServerLine:
    """
    One line from the server, taken apart by L{parse}.  Only the fields
    its kind has are set; the others keep their empty defaults.

    @ivar kind: the type word (C{"MSG"}, C{"JOIN"}, ...), or C{""} for a
        line of no known kind: the greeting, or a line not of the shape its
        word promises, which is best shown as it is.
    @ivar line: the line without its tags.
    @ivar room: the room, without its C{#}.
    @ivar name: who said or did it, came, went or set the topic (C{"-"} for
        a topic shown to a joiner); the old name in C{NICK}; the name
        C{AUTH} wants the password for.
    @ivar target: the recipient of C{PRIV}; the new name in C{NICK}.
    @ivar text: the free text: a message or action, the reason of C{PART}
        or C{QUIT}, a topic, C{INFO} or C{ERROR} text; for C{OK}, the
        command it ends (without its C{/}).
    @ivar count: how many members C{ROOM} says the room has.
    @ivar names: the members C{WHO} lists.
    @ivar tags: the line's tags (C{@key=value;...}).
    @ivar sent: for a stored message shown again (C{HIST}), when it was
        first sent (seconds since the epoch), the other fields being the
        message's; C{None} for any other line, so that nobody takes an old
        message for a new one.
    """

    kind: str
    line: str
    room: str = ""
    name: str = ""
    target: str = ""
    text: str = ""
    count: int = 0
    names: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    sent: float | None = None


_WORD = "[^ ]+"

#: The shape of every kind of line, as the functions above write it.
_SHAPES = {
    "MSG": re.compile(rf"MSG #(?P<room>{_WORD}) <(?P<name>{_WORD})> (?P<text>.*)"),
    "ACT": re.compile(rf"ACT #(?P<room>{_WORD}) \* (?P<name>{_WORD}) (?P<text>.*)"),
    "PRIV": re.compile(rf"PRIV <(?P<name>{_WORD})> @(?P<target>{_WORD}) (?P<text>.*)"),
    "JOIN": re.compile(rf"JOIN #(?P<room>{_WORD}) (?P<name>{_WORD})"),
    "PART": re.compile(rf"PART #(?P<room>{_WORD}) (?P<name>{_WORD})(?: (?P<text>.*))?"),
    "QUIT": re.compile(rf"QUIT (?P<name>{_WORD})(?: (?P<text>.*))?"),
    "NICK": re.compile(rf"NICK (?P<name>{_WORD}) (?P<target>{_WORD})"),
    "TOPIC": re.compile(rf"TOPIC #(?P<room>{_WORD}) (?P<name>{_WORD}) (?P<text>.*)"),
    "ROOM": re.compile(rf"ROOM #(?P<room>{_WORD}) (?P<count>[0-9]+)(?: (?P<text>.*))?"),
    "WHO": re.compile(rf"WHO #(?P<room>{_WORD})(?: (?P<names>.*))?"),
    "INFO": re.compile(r"INFO(?: (?P<text>.*))?"),
    "OK": re.compile(rf"OK /(?P<text>{_WORD})"),
    "AUTH": re.compile(rf"AUTH (?P<name>{_WORD})"),
    "ERROR": re.compile(r"ERROR (?P<text>.*)"),
}

#: The kinds of line the server stores, and so may show again in C{HIST}.
STORED_KINDS = frozenset({"MSG", "ACT", "PRIV"})


def parse(line: str) -> ServerLine:
    """
    Take apart a line from the server (without its line ending), tags and
    C{HIST} included: the inverse of the functions above.
    """
    tags, text = parseTags(line)
    body, sent = text, None
    if text.startswith("HIST "):
        stamp, _, body = text[5:].partition(" ")
        try:
            sent = float(calendar.timegm(time.strptime(stamp, HISTORY_TIME)))
        except ValueError:
            return ServerLine("", text, tags=tags)
    kind = body.partition(" ")[0]
    kinds = _SHAPES if sent is None else STORED_KINDS
    match = _SHAPES[kind].fullmatch(body) if kind in kinds else None
    if match is None:
        return ServerLine("", text, tags=tags)
    fields = {key: value for key, value in match.groupdict().items() if value is not None}
    if "count" in fields:
        fields["count"] = int(fields["count"])
    if "names" in fields:
        fields["names"] = tuple(name for name in fields["names"].split(" ") if name)
    return ServerLine(kind, text, tags=tags, sent=sent, **fields)


def messageTags(message, own: bool) -> str:
    """
    The tags of a stored message (a L{globalchat.store.interface.Message}):
    its id and, for its sender only (C{own}), the sender's own id for it.
    """
    if message.clientId is None or not own:
        return f"id={message.id}"
    return f"id={message.id};cid={message.clientId}"
