"""
What each server says on the wire, and the bench's own line format.

Every server frames chat differently (globalchat's C{MSG #lobby <name>},
IRC's C{PRIVMSG}, ncat's C{<userN>}), but the text the bench sends is
the same everywhere: a line that names its sender, its sequence number
and the moment it was written.  A receiver can then check every line it
gets (lost, split, merged, altered, reordered) and time it, whatever the
server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

LINE_SIZE = 64
"""Bytes of one chat line the bench sends, newline included (C{--line-size}
changes it for a run: ncat's 8 KiB reads end on a line's end when it
divides 8192, and split one line in each read otherwise)."""

MARK = b"xxxx"
"""
Part of the padding of every bench line: lines without it (greetings,
joins, server notices) are not chat and are skipped cheaply.
"""

_TEXT = re.compile(rb"(s\d+):(\d+):(\d+\.\d{6}):x+")


def payload(sender: str, seq: int, sentAt: float) -> bytes:
    """
    The text of one bench line, without its newline, padded so that the
    line is L{LINE_SIZE} bytes once framed by the plainest servers.
    """
    head = f"{sender}:{seq}:{sentAt:.6f}:".encode()
    return head + b"x" * (LINE_SIZE - 1 - len(head))


def parsePayload(text: bytes) -> tuple[str, int, float] | None:
    """
    The sender, sequence number and send time of an intact bench line,
    or C{None} if C{text} was split, merged or altered on the way.
    """
    match = _TEXT.fullmatch(text)
    if match is None or len(text) != LINE_SIZE - 1:
        return None
    return match.group(1).decode(), int(match.group(2)), float(match.group(3))


def damage(expected: int, intact: int, malformed: int, reordered: int) -> int:
    """
    How many of the C{expected} lines one client should have got arrived
    damaged, given the C{intact} ones, the C{malformed} pieces it saw
    (bench text that is not one intact line: a split line makes two
    pieces, and a line that runs pieces of several lines together counts
    one for each) and the C{reordered} ones (intact, but not after their
    sender's last): every reordered line, and as many malformed ones as
    lines are still missing.  The rest of the missing lines were lost.
    """
    missing = max(0, expected - intact)
    return reordered + min(malformed, max(0, missing - reordered))


@dataclass(frozen=True)
class Dialect:
    """
    How one kind of server is spoken to.

    @ivar login: the bytes a client named C{name} sends to join the room.
    @ivar joined: whether a line tells client C{name} that it is in the
        room (globalchat's own JOIN, IRC's JOIN echo, ncat's announce).
    @ivar delivery: matches a chat line; group C{text} is what was said,
        group C{name} (where the server shows one we chose) who said it.
    @ivar ignored: matches lines that carry old chat (history) and must not
        be counted as deliveries.
    @ivar say: frames one line of text for sending.
    @ivar echoes: whether a sender gets its own lines back.
    @ivar framing: what starts a delivered line's framing (for IRC, a
        space-led mark inside it), to tell pieces of several lines apart.
    """

    login: Callable[[str], bytes]
    joined: Callable[[bytes, str], bool]
    delivery: re.Pattern[bytes]
    say: Callable[[bytes], bytes]
    echoes: bool
    ignored: re.Pattern[bytes] | None = None
    framing: bytes = b"<"

    def pieces(self, line: bytes) -> int:
        """
        How many lines' pieces a damaged C{line} runs together: one more
        for each framing (C{framing}, which starts a delivered line) that
        starts in its middle.
        """
        inside = line.count(self.framing, 1)
        return max(1, inside) if self.framing.startswith(b" ") else 1 + inside


def _plain(text: bytes) -> bytes:
    return text + b"\n"


GLOBALCHAT = Dialect(
    login=lambda name: name.encode() + b"\n",
    joined=lambda line, name: line.rstrip(b"\r") == b"JOIN #lobby " + name.encode(),
    delivery=re.compile(rb"(?:@\S+ )?MSG #lobby <(?P<name>[^>]+)> (?P<text>.*)"),
    ignored=re.compile(rb"(?:@\S+ )?HIST "),
    say=_plain,
    echoes=True,
    framing=b"MSG #",
)

FLOOR = Dialect(
    login=lambda name: name.encode() + b"\n",
    joined=lambda line, name: line == b"hello " + name.encode(),
    delivery=re.compile(rb"<(?P<name>[^>]+)> (?P<text>.*)"),
    say=_plain,
    echoes=True,
)

NCAT = Dialect(
    # ncat names clients itself (<userN>) and would relay a name line as
    # chat.  It puts "<userN> " before each chunk it relays, not each line:
    # a line without it is whole; a line with it in the middle is damaged.
    login=lambda name: b"",
    joined=lambda line, name: line.startswith(b"<announce> "),
    delivery=re.compile(rb"(?:<user\d+> )?(?P<text>.*)"),
    say=_plain,
    echoes=False,
    framing=b"<user",
)

IRC = Dialect(
    login=lambda name: (f"NICK {name}\r\nUSER {name} 0 * :{name}\r\nJOIN #lobby\r\n").encode(),
    joined=lambda line, name: line.startswith(f":{name}!".encode()) and b" JOIN " in line,
    delivery=re.compile(rb":(?P<name>[^!\s]+)!\S* PRIVMSG #lobby :(?P<text>.*)"),
    say=lambda text: b"PRIVMSG #lobby :" + text + b"\r\n",
    echoes=False,
    framing=b" PRIVMSG #",
)

DIALECTS = {"globalchat": GLOBALCHAT, "floor": FLOOR, "ncat": NCAT, "irc": IRC}
