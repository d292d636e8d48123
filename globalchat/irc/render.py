# -*- test-case-name: tests.test_irc_session -*-
"""
How an IRC client is shown the chat's events (L{IRender}).

One renderer per set of capabilities that change how events look
(server-time, message-tags, account-tag, echo-message, extended-join):
clients that negotiated the same ones share it, so a room's fan-out
builds its IRC bytes once per set, as L{RunCache} promises.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from zope.interface import implementer

from globalchat.chat import names
from globalchat.chat.render import IRender
from globalchat.irc import numerics as N
from globalchat.irc.message import MAX_BODY, build, splitText

if TYPE_CHECKING:
    from globalchat.irc.server import IRCServer
    from globalchat.store.interface import Message

#: The capabilities that change how events are rendered.
RENDER_CAPS = frozenset({"server-time", "message-tags", "account-tag", "echo-message",
                         "extended-join"})

#: What each kind of stored message is sent as.
_COMMANDS = {"msg": "PRIVMSG", "act": "PRIVMSG", "priv": "PRIVMSG", "privact": "PRIVMSG",
             "notice": "NOTICE", "privnotice": "NOTICE"}


def serverTime(when: float) -> str:
    """
    The IRCv3 C{time} tag's value: UTC with milliseconds.
    """
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z"


@implementer(IRender)
class IRCRender:
    """
    The IRC protocol for clients with the capabilities C{caps}.
    """

    #: Its own messages look different to a sender: none without
    #: echo-message, its label with labeled-response.
    personal = True

    def __init__(self, server: IRCServer, caps: frozenset[str]) -> None:
        self._server = server
        self.caps = caps
        self._time = "server-time" in caps
        self._msgid = "message-tags" in caps
        self._account = "account-tag" in caps
        self._echo = "echo-message" in caps
        self._extended = "extended-join" in caps

    # -- from the server ---------------------------------------------------

    def _numeric(self, code: str, name: str, *params: str) -> bytes:
        return build(code, name, *params, source=self._server.name)

    def greeting(self, template: str, name: str) -> bytes:
        server = self._server
        lines = [
            self._numeric(N.RPL_WELCOME, name, template.format(name=name)),
            self._numeric(N.RPL_YOURHOST, name,
                          f"Your host is {server.name}, running version {server.version}"),
            self._numeric(N.RPL_CREATED, name, f"This server was created {server.created}"),
            build(N.RPL_MYINFO, name, server.name, server.version, server.userModes,
                  server.channelModes, server.paramModes, source=server.name),
        ]
        lines += [self._numeric(N.RPL_ISUPPORT, name, *tokens, "are supported by this server")
                  for tokens in server.isupport()]
        lines += self.lusers(name)
        return b"".join(lines)

    def lusers(self, name: str) -> list[bytes]:
        """
        The LUSERS numerics: who is online, in how many rooms.
        """
        users, operators, rooms = self._server.counts()
        most = max(users, self._server.maxUsers)
        return [
            self._numeric(N.RPL_LUSERCLIENT, name,
                          f"There are {users} users and 0 invisible on 1 servers"),
            self._numeric(N.RPL_LUSEROP, name, str(operators), "operator(s) online"),
            self._numeric(N.RPL_LUSERUNKNOWN, name, str(self._server.unregistered()),
                          "unknown connection(s)"),
            self._numeric(N.RPL_LUSERCHANNELS, name, str(rooms), "channels formed"),
            self._numeric(N.RPL_LUSERME, name, f"I have {users} clients and 0 servers"),
            self._numeric(N.RPL_LOCALUSERS, name, str(users), str(most),
                          f"Current local users {users}, max {most}"),
            self._numeric(N.RPL_GLOBALUSERS, name, str(users), str(most),
                          f"Current global users {users}, max {most}"),
        ]

    def motd(self, name: str, lines: list[str]) -> bytes:
        if not lines:
            return self._numeric(N.ERR_NOMOTD, name, "MOTD File is missing")
        out = [self._numeric(N.RPL_MOTDSTART, name, f"- {self._server.name} Message of the day - ")]
        out += [self._numeric(N.RPL_MOTD, name, f"- {line}") for line in lines]
        out.append(self._numeric(N.RPL_ENDOFMOTD, name, "End of /MOTD command."))
        return b"".join(out)

    def notice(self, text: str) -> bytes:
        return build("NOTICE", "*", text, source=self._server.name)

    def error(self, text: str) -> bytes:
        # A refusal that has no numeric of its own; a connection that ends
        # is also sent ERROR (IRCSession.close).
        return build("NOTICE", "*", text, source=self._server.name)

    # -- membership --------------------------------------------------------

    def joined(self, room: str, name: str) -> bytes:
        source = self._server.source(name)
        if self._extended:
            account, realname = self._server.accountAndRealname(name)
            return build("JOIN", f"#{room}", account or "*", realname, source=source)
        return build("JOIN", f"#{room}", source=source)

    def parted(self, room: str, name: str, reason: str) -> bytes:
        params = (f"#{room}", reason) if reason else (f"#{room}",)
        return build("PART", *params, source=self._server.source(name))

    def kicked(self, room: str, name: str, by: str, reason: str) -> bytes:
        return build("KICK", f"#{room}", name, reason or by, source=self._server.source(by))

    def quit(self, name: str, reason: str) -> bytes:
        return build("QUIT", reason or "Quit", source=self._server.source(name))

    def renamed(self, old: str, new: str) -> bytes:
        return build("NICK", new, source=self._server.source(new, shownAs=old))

    def topic(self, room: str, setter: str, text: str) -> bytes:
        if setter == "-":
            # Shown on joining: the JOIN's answer carries it (RPL_TOPIC).
            return b""
        return build("TOPIC", f"#{room}", text, source=self._server.source(setter))

    # -- messages ----------------------------------------------------------

    def message(self, message: Message, where: str, own: bool) -> bytes:
        if own and not self._echo and not (message.room is None and
                                           message.recipient == names.key(message.sender)):
            # Without echo-message a client is not sent its own messages,
            # but for one it sent to itself.
            return b""
        return self._message(message, where, live=True)

    def history(self, message: Message, where: str, own: bool) -> bytes:
        return self._message(message, where, live=False)

    def shown(self, message: Message, where: str, extra: dict[str, str]) -> bytes:
        """
        A stored message shown again with C{extra} tags (its batch).
        """
        return self._message(message, where, live=False, extra=extra)

    def _message(self, message: Message, where: str, live: bool,
                 extra: dict[str, str] | None = None) -> bytes:
        tags = self.tagsOf(message)
        if extra:
            tags.update(extra)
        text = message.text
        if not live and not self._time:
            text = time.strftime("[%Y-%m-%d %H:%M UTC] ", time.gmtime(message.time)) + text
        command = _COMMANDS.get(message.kind, "PRIVMSG")
        target = f"#{where}" if message.room is not None else where
        source = self._server.source(message.sender)
        act = message.kind in ("act", "privact")
        wrap = len("\x01ACTION \x01") if act else 0
        head = len(f"{command} {target} ".encode("utf-8")) + wrap
        if len(text.encode("utf-8")) <= MAX_BODY - 2 - head:
            # What an IRC client could send fits one line (cut to 512
            # with the source): longer text (from the line port) is split.
            pieces = [text]
        else:
            pieces = splitText(text, MAX_BODY - 2 - head - len(source.encode("utf-8")) - 3)
        return b"".join(
            build(command, target, f"\x01ACTION {piece}\x01" if act else piece,
                  source=source, tags=tags)
            for piece in pieces)

    def tagsOf(self, message: Message) -> dict[str, str]:
        """
        The tags a stored message carries for this client.
        """
        tags = {}
        if self._time:
            tags["time"] = serverTime(message.time)
        if self._msgid:
            tags["msgid"] = str(message.id)
            if message.clientTags:
                tags.update(message.clientTags)
        if self._account:
            account = self._server.accountAndRealname(message.sender)[0]
            if account:
                tags["account"] = account
        if self._msgid and self._server.isBot(message.sender):
            tags["bot"] = ""
        return tags
