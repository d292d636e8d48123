# -*- test-case-name: tests.test_irc_session -*-
"""
One IRC client's connection: a L{Session} that reads IRC messages.

The session's rules (answer order, time-outs, slow readers) are the line
port's; what differs is the framing of a line into an IRC message, the
numerics answers are made of, and the rate: an IRC client paces itself
and breaks if lines are dropped, so lines over the rate are delayed
(held and handled as the rate allows, as IRC servers' "fake lag" does)
and only a client that keeps sending while held is cut off.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import TYPE_CHECKING

from globalchat.chat import names
from globalchat.chat.errors import ChatError
from globalchat.chat.session import Session
from globalchat.chat.text import ControlCharacters, checkText
from globalchat.irc import numerics as N
from globalchat.irc.errors import IRCError, refusal
from globalchat.irc.message import BadMessage, Message, build, escapeTag, parse

if TYPE_CHECKING:
    from globalchat.irc.commands import IRCCommands
    from globalchat.irc.server import IRCServer

#: The most bytes of lines held back for the rate before the client is
#: cut off for flooding.
MAX_LAGGED = 64 * 1024

#: Commands that carry a message to store (their answers wait for it).
MESSAGE_COMMANDS = frozenset({"PRIVMSG", "NOTICE"})


class IRCSession(Session):
    """
    An IRC client's session (one class per L{IRCServer}: L{sessionClass}).

    @ivar nick: the nick asked for before registration (then L{name}).
    @ivar username: the user name of USER.
    @ivar realname: the real name of USER.
    @ivar caps: the capabilities it negotiated.
    @ivar welcomed: whether registration is complete.
    @ivar away: its away message, or C{None}.
    @ivar oper: whether it used OPER (server operators only).
    """

    server: IRCServer
    commands: IRCCommands
    joinsDefaultRoom = False

    __slots__ = ("nick", "username", "realname", "caps", "capVersion", "negotiating",
                 "password", "welcomed", "registering", "away", "oper", "bot", "wallops", "sasl",
                 "monitoring",
                 "signedOn",
                 "_lagged", "_lagBytes", "_lagCall", "_labelling", "_echoLabels")

    def __init__(self, admission, connection, now: float) -> None:
        super().__init__(admission, connection, now)
        self.nick: str | None = None
        self.username: str | None = None
        self.realname: str | None = None
        self.caps: set[str] = set()
        self.capVersion = 0
        self.negotiating = False
        self.password: str | None = None
        self.welcomed = False
        self.registering = False
        self.away: str | None = None
        self.oper = False
        #: Whether it marked itself a bot (user mode B).
        self.bot = False
        #: Whether it wants operators' WALLOPS (user mode w).
        self.wallops = False
        #: The SASL exchange under way: (mechanism, base64 so far), or None.
        self.sasl: tuple[str, str] | None = None
        #: Name keys it MONITORs (made on first use).
        self.monitoring: set[str] | None = None
        #: When it was welcomed.
        self.signedOn = 0.0
        self._lagged: deque[bytes] | None = None
        self._lagBytes = 0
        self._lagCall = None
        #: The labelled command being answered (labeled-response), if any.
        self._labelling: _Labelled | None = None
        #: The labels its echoed messages still owe, in the order sent:
        #: each with how many echoes it labels and those seen so far.
        self._echoLabels: deque[tuple[str, int, list[bytes]]] | None = None

    # -- lines in ----------------------------------------------------------

    def receive(self, raw: bytes) -> None:
        if self._closed:
            return
        self._hub.counters.linesIn += 1
        if self._lagged:
            self._lag(raw)
            return
        if not self._rules.heard(self._admission.clock.seconds()):
            self._lag(raw)
            return
        self._take(raw)

    def _take(self, raw: bytes) -> None:
        # Kept as text (undecodable bytes escaped) while it may be held,
        # and parsed from bytes again when handled.
        self.lineReceived(raw.decode("utf-8", "surrogateescape"))

    def _lag(self, raw: bytes) -> None:
        """
        Hold a line over the rate; cut off a client that keeps sending.
        """
        if self._lagged is None:
            self._lagged = deque()
        self._lagged.append(raw)
        self._lagBytes += len(raw) + 2
        if self._lagBytes > MAX_LAGGED:
            self._hub.counters.dropped["rate"] += 1
            self.log.warn("{peer} cut off for flooding", peer=self.connection.peer,
                          security="flood")
            self._lagged = None
            self.closeWith(build("ERROR", "Excess Flood"))
            self._admission.strike(self)
            return
        if self._lagCall is None:
            self._lagCall = self._admission.clock.callLater(
                1.0 / self._rules.limits.rate, self._drain)

    def _drain(self) -> None:
        self._lagCall = None
        clock = self._admission.clock
        with self._hub.batch():
            while self._lagged and not self._closed and self._rules.heard(clock.seconds()):
                raw = self._lagged.popleft()
                self._lagBytes -= len(raw) + 2
                self._take(raw)
        if self._lagged and not self._closed:
            self._lagCall = clock.callLater(1.0 / self._rules.limits.rate, self._drain)

    def lineTooLong(self, limit: int) -> None:
        if not self._withinRate():
            return
        self._hub.counters.dropped["too-long"] += 1
        self.numeric(N.ERR_INPUTTOOLONG, "Input line was too long")

    def strike(self) -> None:
        """
        Count abuse (a wrong password) against its address.
        """
        self._admission.strike(self)

    def now(self) -> float:
        """
        The time, by the clock every rule is measured with.
        """
        return self._admission.clock.seconds()

    @property
    def loggedInFully(self) -> bool:
        # SASL names it before registration ends: the time-out runs on.
        return self.welcomed

    def isMessageLine(self, text: str) -> bool:
        words = text.split(" ", 2)
        command = words[1] if text.startswith(("@", ":")) and len(words) > 1 else words[0]
        return command.upper() in MESSAGE_COMMANDS

    def _handle(self, text: str) -> None:
        try:
            message = parse(text.encode("utf-8", "surrogateescape"))
        except BadMessage as e:
            self._badMessage(e)
            return
        label = message.tags.get("label") if "labeled-response" in self.caps else None
        state = self._labelling = _Labelled(label) if label is not None else None
        before = self._inflight
        try:
            self._dispatch(message)
        finally:
            if state is not None:
                echoed = self._inflight - before if "echo-message" in self.caps else 0
                if echoed > 0:
                    # The echo of the message carries the label.
                    self._echoLabels = self._echoLabels or deque()
                    self._echoLabels.append((label, echoed, []))
                state.ack = echoed <= 0
                state.dispatching = False
                if not state.waiting:
                    self._labelled(state)

    def _dispatch(self, message: Message) -> None:
        try:
            if message.command not in ("PRIVMSG", "NOTICE"):
                for param in message.params:
                    checkText(param)
            self.commands.dispatch(self, message)
        except IRCError as e:
            if message.command != "NOTICE":
                self.numeric(e.code, *e.params)
        except ControlCharacters:
            self.drop("control", "control characters are not allowed")
        except ChatError as e:
            if message.command != "NOTICE":
                self.refuse(e, message.params[0] if message.params else "*")

    def _badMessage(self, e: BadMessage) -> None:
        if e.code == "invalid-utf8":
            if e.command not in ("NOTICE", ""):
                self.reply(build("FAIL", e.command, "INVALID_UTF8",
                                 "Message rejected: it is not UTF-8", source=self.server.name))
        elif e.code in ("too-long", "tags-too-long"):
            self._hub.counters.dropped["too-long"] += 1
            if e.command != "NOTICE":
                self.numeric(N.ERR_INPUTTOOLONG, "Input line was too long")

    # -- lines out ---------------------------------------------------------

    @property
    def shownNick(self) -> str:
        """
        The nick numerics are addressed to: C{*} before there is one.
        """
        return self.name or self.nick or "*"

    def numeric(self, code: str, *params: str) -> None:
        """
        Answer with a numeric from the server.
        """
        self.reply(build(code, self.shownNick, *params, source=self.server.name))

    def refuse(self, error: ChatError, target: str) -> None:
        """
        Answer a refusal about C{target}: with its numeric, or a NOTICE.
        """
        numeric = refusal(error, target)
        if numeric is None:
            self.reply(self.render.error(str(error)))
        else:
            self.numeric(numeric.code, *numeric.params)

    def fromServer(self, command: str, *params: str) -> None:
        """
        Answer with a message from the server (PONG, CAP, FAIL, ...).
        """
        self.reply(build(command, *params, source=self.server.name))

    def reply(self, data: bytes) -> None:
        if self._labelling is not None:
            self._labelling.lines.append(data)
        else:
            super().reply(data)

    def answer(self, data: bytes) -> None:
        if self._labelling is not None:
            self._labelling.lines.append(data)
        else:
            super().answer(data)

    def waitFor(self, d, closing: bytes | None = None) -> None:
        state = self._labelling
        if state is not None:
            # The answer comes later: it is labelled once it is all there.
            state.waiting += 1

            def done(result: object) -> object:
                state.waiting -= 1
                if not state.waiting and not state.dispatching:
                    self._labelled(state)
                return result

            d.addBoth(done)
        super().waitFor(d, closing)

    def send(self, data: bytes, messageId: int | None = None) -> None:
        if self._labelling is not None and messageId is None:
            # An event its labelled command caused (its own JOIN, NICK...).
            self._labelling.lines.append(data)
        else:
            super().send(data, messageId)

    def _labelled(self, state: _Labelled) -> None:
        """
        Send what the labelled command was answered with, labelled: one
        line tagged, several in a batch, none as an ACK (unless its echo
        will carry the label).
        """
        if self._labelling is state:
            self._labelling = None
        if state.lines or state.ack:
            super().reply(self._labelledLines(state.label, state.lines))

    def _labelledLines(self, label: str, blocks: list[bytes]) -> bytes:
        """
        C{blocks} (finished lines) as the answer to a labelled command.
        """
        lines = [line + b"\r\n" for data in blocks for line in data.split(b"\r\n") if line]
        if not lines:
            return build("ACK", source=self.server.name, tags={"label": label})
        if len(lines) == 1:
            return _tagged(lines[0], {"label": label})
        ref = f"L{next(_BATCHES)}"
        out = [build("BATCH", f"+{ref}", "labeled-response", source=self.server.name,
                     tags={"label": label})]
        out += [_tagged(line, {"batch": ref}) for line in lines]
        out.append(build("BATCH", f"-{ref}", source=self.server.name))
        return b"".join(out)

    def show(self, message, where: str) -> bytes:
        data = super().show(message, where)
        if not (self._echoLabels and data and message.sender == self.name):
            return data
        toSelf = message.room is None and message.recipient == names.key(self.name)
        # A message to itself is its echo and its delivery: only the echo
        # is labelled.
        delivered = self.render.message(message, where, False) if toSelf else b""
        label, count, echoes = self._echoLabels[0]
        echoes.append(data)
        if len(echoes) < count:
            return delivered
        self._echoLabels.popleft()
        return self._labelledLines(label, echoes) + delivered

    def deliverRun(self, shared) -> None:
        if not self._echoLabels or self._catchup is not None:
            super().deliverRun(shared)
            return
        # Its own messages owe their labels: each is shown on its own.
        run, _ = shared.shown(self.render, self.name, self.ignoring)
        for message in run:
            data = self.show(message, shared.where)
            self._hub.counters.deliveries += 1
            if data:
                self._write(data)

    def setCaps(self, caps: set[str]) -> None:
        """
        It negotiated C{caps}: show it events as they ask.
        """
        self.caps = caps
        self.render = self.server.render(caps)

    def close(self) -> None:
        if not self._closed and not self.gone:
            self._write(build("ERROR", "Closing Link: connection closed"))
        super().close()

    def closeWith(self, data: bytes) -> None:
        self._write(data)
        if not data.startswith(b"ERROR"):
            self._write(build("ERROR", f"Closing Link: {_text(data)}"))
        self.gone = True
        super().close()

    def disconnected(self) -> None:
        if self._lagCall is not None and self._lagCall.active():
            self._lagCall.cancel()
        self._lagCall = None
        self._lagged = None
        for key in self.monitoring or ():
            self.server.monitor(self, key, False)
        if self.oper and self._hub.moderation is not None:
            self._hub.moderation.oper(self, up=False)
        super().disconnected()


class _Labelled:
    """
    The answer to a labelled command, collected until it is complete.

    @ivar waiting: how many of its parts are still on their way.
    @ivar dispatching: whether the command is still being handled.
    @ivar ack: whether no answer at all is answered with an ACK.
    """

    __slots__ = ("label", "lines", "waiting", "dispatching", "ack")

    def __init__(self, label: str) -> None:
        self.label = label
        self.lines: list[bytes] = []
        self.waiting = 0
        self.dispatching = True
        self.ack = True


#: Batch references, unique in the server.
_BATCHES = itertools.count(1)


def _tagged(line: bytes, tags: dict[str, str]) -> bytes:
    """
    C{line} (finished bytes) with C{tags} added to the ones it has.
    """
    extra = ";".join(f"{k}={escapeTag(v)}" for k, v in tags.items()).encode("utf-8")
    if line.startswith(b"@"):
        return b"@" + extra + b";" + line[1:]
    return b"@" + extra + b" " + line


def _text(data: bytes) -> str:
    """
    The trailing text of a finished line, for an ERROR line.
    """
    line = data.decode("utf-8", "replace").strip()
    return line.partition(" :")[2] or line


def sessionClass(server: IRCServer, commands: IRCCommands) -> type[IRCSession]:
    """
    The session class of one IRC server: L{Admission.connect} makes
    sessions of it, each knowing its server and commands.
    """
    return type("IRCSession", (IRCSession,), {
        "__slots__": (), "server": server, "commands": commands,
        "defaultRender": server.render(())})
