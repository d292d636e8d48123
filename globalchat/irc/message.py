# -*- test-case-name: tests.test_irc_message -*-
"""
IRC messages taken apart and put together: tags, source, command and
parameters (modern.ircdocs.horse, "Messages"; IRCv3 message-tags).

A client's line is split as bytes first, so that a byte that is not
UTF-8 in one parameter spoils only that message, and the 512-byte limit
(tags apart) is counted in bytes, as the specification counts it.
C{twisted.words.protocols.irc.parsemsg} is not used: it takes decoded
text and ignores a leading C{@tags} word.

Every line the server sends is built by L{build}, which is the one place
that keeps a parameter from ending a line or starting a new one: text
from another protocol is always data here, never a command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Most bytes of a message without its tags, CRLF included.
MAX_BODY = 512

#: Most bytes of the tags a client may send (with C{@} and the space).
MAX_CLIENT_TAGS = 4096

#: Most bytes of the tags the server sends.
MAX_SERVER_TAGS = 8191

#: The longest whole line read from a client, tags included, before the
#: CRLF: what the transport is told to frame.
MAX_LINE = MAX_CLIENT_TAGS + MAX_BODY

#: Commands whose only parameter is text.
_TEXT_ONLY = frozenset({"QUIT", "ERROR"})

_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_UNESCAPES = {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}


class BadMessage(Exception):
    """
    A line that is not an IRC message the server can act on.

    @ivar command: its command, when that much could be read.
    @ivar code: why: C{"empty"}, C{"too-long"}, C{"tags-too-long"} or
        C{"invalid-utf8"}.
    """

    def __init__(self, code: str, command: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.command = command


@dataclass(slots=True)
class Message:
    """
    One IRC message.

    @ivar tags: its tags, values unescaped (C{""} for a tag without one).
    @ivar source: the prefix without its C{:}, or C{None}.
    @ivar command: the command, upper case, or a three-digit numeric.
    @ivar params: the parameters, the trailing one included as it is.
    """

    command: str
    params: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    source: str | None = None


def unescapeTag(value: str) -> str:
    out = []
    chars = iter(value)
    for char in chars:
        if char == "\\":
            nxt = next(chars, None)
            if nxt is not None:
                out.append(_ESCAPES.get(nxt, nxt))
        else:
            out.append(char)
    return "".join(out)


def escapeTag(value: str) -> str:
    return "".join(_UNESCAPES.get(c, c) for c in value)


def parseTags(text: str) -> dict[str, str]:
    tags = {}
    for item in text.split(";"):
        key, _, value = item.partition("=")
        if key:
            tags[key] = unescapeTag(value)
    return tags


def parse(raw: bytes) -> Message:
    """
    Take apart one line from a client (without its line ending).

    @raise BadMessage: for an empty line, one too long, or one that is not
        UTF-8.
    """
    tags: dict[str, str] = {}
    rest = raw.lstrip(b" ")
    if rest.startswith(b"@"):
        head, _, rest = rest.partition(b" ")
        if len(head) + 1 > MAX_CLIENT_TAGS:
            raise BadMessage("tags-too-long")
        try:
            tags = parseTags(head[1:].decode("utf-8"))
        except UnicodeDecodeError:
            raise BadMessage("invalid-utf8") from None
        rest = rest.lstrip(b" ")
    source = None
    if rest.startswith(b":"):
        head, _, rest = rest.partition(b" ")
        source = head[1:].decode("utf-8", "replace")
        rest = rest.lstrip(b" ")
    body = rest
    trailing = None
    if b" :" in body:
        body, _, trailing = body.partition(b" :")
    words = [w for w in body.split(b" ") if w]
    if not words:
        raise BadMessage("empty")
    command = words[0].decode("ascii", "replace").upper()
    if len(rest) + 2 > MAX_BODY:
        raise BadMessage("too-long", command)
    try:
        params = [w.decode("utf-8") for w in words[1:]]
        if trailing is not None:
            params.append(trailing.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadMessage("invalid-utf8", command) from None
    return Message(command, params, tags, source)


def _clean(text: str) -> str:
    # A parameter never ends the line, nor holds a NUL: whatever it came
    # from, it stays one parameter of one message.
    return text.replace("\r", " ").replace("\n", " ").replace("\0", " ")


def _fit(text: bytes, room: int) -> bytes:
    """
    C{text} cut to at most C{room} bytes, at a character boundary.
    """
    if len(text) <= room:
        return text
    # A character cut in two is dropped whole.
    return text[:max(room, 0)].decode("utf-8", "ignore").encode("utf-8")


def build(command: str, *params: str, source: str | None = None,
          tags: dict[str, str] | None = None) -> bytes:
    """
    One finished line (CRLF included).  Every parameter but the last must
    be a single word; the last is sent as a trailing parameter when it
    needs to be, and cut to keep the message within 512 bytes.
    """
    head = [f":{_clean(source).replace(' ', '')}"] if source else []
    head.append(command)
    words = [_clean(p).replace(" ", "") or "*" for p in params[:-1]]
    head.extend(words)
    data = " ".join(head).encode("utf-8")
    if params:
        last = _clean(params[-1])
        if (not last or " " in last or last.startswith(":") or len(params) > 1
                or command in _TEXT_ONLY):
            # Text goes last, with its colon even when it is one word:
            # some clients read it only there.
            last = ":" + last
        data += b" " + _fit(last.encode("utf-8"), MAX_BODY - 2 - len(data) - 1)
    line = data + b"\r\n"
    if tags:
        prefix = "@" + ";".join(k if v == "" else f"{k}={escapeTag(v)}" for k, v in tags.items())
        encoded = prefix.encode("utf-8")
        if len(encoded) + 1 <= MAX_SERVER_TAGS:
            line = encoded + b" " + line
    return line


def splitText(text: str, room: int) -> list[str]:
    """
    C{text} in pieces of at most C{room} bytes each, cut between words
    when a piece has a space, so that a long line from another protocol
    reaches an IRC client whole, in several messages.
    """
    data = text.encode("utf-8")
    if len(data) <= room:
        return [text]
    pieces = []
    while len(data) > room:
        cut = _fit(data, room)
        space = cut.rfind(b" ")
        if space > room // 2:
            cut = cut[:space + 1]
        if not cut:
            break
        pieces.append(cut.decode("utf-8").rstrip(" ") or " ")
        data = data[len(cut):]
    if data:
        pieces.append(data.decode("utf-8"))
    return pieces
