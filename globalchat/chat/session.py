# -*- test-case-name: tests.test_chat_session -*-
"""
One connection's life, whatever carries it: the login, the order of
answers, and the rules every connection lives by (L{globalchat.chat.rules}).

A transport only frames bytes into lines for L{Session.receive} and
passes on its back-pressure (L{Session.pauseProducing}); everything a
client is sent goes through here: the one writer to an L{IConnection}.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Callable, Iterable

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from globalchat.chat import names, render as renders, text as texts, wire
from globalchat.chat.connection import IConnection
from globalchat.chat.errors import ChatError, ControlCharacters, WrongPassword
from globalchat.chat.rules import LOGGED_REFUSALS, Policed, Rules

if TYPE_CHECKING:
    from globalchat.chat.admission import Admission
    from globalchat.store.interface import Message


class Session(Policed):
    """
    One client's conversation with the server, from its first line on.

    Every line gets its answers in the order the lines came, although some
    answers wait (a message for the store, a join for the room's history,
    a login for the password check).  So there are three ways to write:

      - L{reply}: the answer to the line being handled; held while an
        earlier answer is still on its way;
      - L{answer}: a later part of the answer a L{waitFor} is completing;
        written at once, since the lines held behind it wait for it;
      - L{send}: somebody else's message or event; never held, but kept
        back while a history is being shown, to drop what it repeats.

    @ivar name: the name it logged in with, or C{None} before that.
    @ivar rooms: the rooms it is in, in order of joining (a list: most
        people are in a room or two, and there are many sessions).
    @ivar current: the room its plain lines go to.
    @ivar gone: whether it has quit or been disconnected.
    @ivar render: how its client is shown events (L{renders.IRender}):
        for a line client, with message ids if it asked (C{@tags}).
    @ivar resumeFrom: the last message id it saw, when it is resuming.
    @ivar certified: whether its name is its client certificate's.
    @ivar account: the key of the account it is logged in to, or C{None}
        for a guest.
    """

    #: How a new session of this protocol is shown events.
    defaultRender: renders.IRender = renders.PLAIN

    #: Whether logging in puts it in the default room (an IRC client
    #: chooses its rooms itself).
    joinsDefaultRoom = True

    __slots__ = ("_hub", "_admission", "connection", "name", "rooms", "current", "gone",
                 "render", "resumeFrom", "certified", "account", "ignoring", "_logout", "_pendingName", "_held",
                 "_busy", "_inflight", "_catchup", "_releasing", "_rules", "_closed", "_out")

    def __init__(self, admission: Admission, connection: IConnection, now: float) -> None:
        self._hub = admission.hub
        self._admission = admission
        self.connection = connection
        self.name: str | None = None
        self.rooms: list = []
        self.current = None
        self.gone = False
        self.render = self.defaultRender
        self.resumeFrom: int | None = None
        self.certified = False
        self.account: str | None = None
        #: The name keys whose lines it does not want (made on first use).
        self.ignoring: set[str] | None = None
        self._logout: Callable[[], None] | None = None
        #: The name waiting for its password, and the name typed.
        self._pendingName: tuple[str, str] | None = None
        #: Lines (str) and answers (bytes) waiting for an earlier answer;
        #: made when first needed, as most sessions never wait.
        self._held: deque[str | bytes] | None = None
        #: How many waits (password, history) are under way.
        self._busy = 0
        #: How many of its messages are being stored.
        self._inflight = 0
        #: While history is being shown: what else it was sent meanwhile,
        #: with the message ids, to drop what the history shows.
        self._catchup: list[tuple[int | None, bytes]] | None = None
        self._releasing = False
        self._rules = Rules(admission.limits, now)
        self._closed = False
        #: What it was sent in this turn, written once the turn is over
        #: (L{globalchat.chat.output}); C{None} when nothing is queued.
        self._out: list[bytes] | None = None

    # -- lines in --------------------------------------------------------

    def receive(self, raw: bytes) -> None:
        """
        One line from the transport, without its line ending: counted
        against the rate, decoded, and handled.
        """
        if not self._withinRate():
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.drop("invalid-utf8", "invalid UTF-8, line dropped")
            return
        self.lineReceived(text)

    def lineReceived(self, text: str) -> None:
        """
        Handle one decoded line.  A refused line is answered with one error
        line and the connection carries on.
        """
        text = text.strip()
        if self.gone or (not text and self.name is not None):
            # Lines after /quit in the same read are not acted on; a blank
            # line in the chat says nothing.
            return
        # A message's answer waits for the store; lines other than messages
        # sent after it wait for that answer, so that answers keep their order.
        if self._held or self._busy or (self._inflight and not self.isMessageLine(text)):
            self._hold(text)
        else:
            self._handle(text)
        self._hub.lineDone()

    @property
    def loggedInFully(self) -> bool:
        """
        Whether it is past logging in (and so past the login time-out).
        """
        return self.name is not None

    def isMessageLine(self, text: str) -> bool:
        """
        Whether C{text} is a message to store, which need not wait for the
        answers to the messages before it.
        """
        return wire.isMessageLine(text)

    def _hold(self, item: str | bytes, first: bool = False) -> None:
        if self._held is None:
            self._held = deque()
        (self._held.appendleft if first else self._held.append)(item)

    def _handle(self, text: str) -> None:
        try:
            texts.checkText(text)
            if self.name is None:
                self._login(text)
                return
            tags, text = wire.parseTags(text)
            clientId = names.checkClientId(tags["id"]) if "id" in tags else None
            self._hub.commands.dispatch(self, text, clientId)
        except ControlCharacters as e:
            self.drop("control", str(e))
        except ChatError as e:
            self.reply(self.render.error(str(e)))

    # -- logging in ------------------------------------------------------

    def _login(self, text: str) -> None:
        identity = self._admission.identity
        if self._pendingName is not None:
            (name, typed), self._pendingName = self._pendingName, None
            self._logIn(identity.login(self, name, text), typed)
            return
        tags, typed = wire.parseTags(text)
        if "resume" in tags:
            self.resumeFrom = texts.parseCount(tags["resume"], "resume= needs the id of the "
                                                               "last message you saw")
        if "tags" in tags or "resume" in tags:
            self.render = renders.TAGGED
        name = identity.nameFor(typed, self.connection.certificate)
        if not (identity.certified and self.connection.certificate is not None):
            # Early, before any password; but a CA-signed certificate may
            # log in to its name while a guest holds it: the realm decides.
            self._hub.checkFree(name)

        def begun(loggedIn: bool) -> bool:
            if not loggedIn and not self.gone:
                self._pendingName = (name, typed)
                self.answer(wire.auth(name))
            return loggedIn

        self._logIn(identity.begin(self, name).addCallback(begun), typed)

    def _logIn(self, d: Deferred[bool], typed: str) -> None:
        """
        Greet the client once the portal has let it in, or say why not.
        """

        def welcome(loggedIn: bool) -> None:
            if loggedIn and not self.gone:
                self._hub.welcome(self, typed)

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            if not self.gone:
                self.answer(self.render.error(failure.getErrorMessage()))
            if failure.check(WrongPassword):
                self._admission.strike(self)

        d.addCallbacks(welcome, refused)
        self.waitFor(d)

    def registered(self, account: str | None) -> None:
        """
        Its name became an account (or stopped being one).
        """
        self.account = account

    def ignore(self, key: str, ignored: bool = True) -> bool:
        """
        Stop (or start again) delivering the lines of the name C{key} to
        it; whether that changed anything.
        """
        ignoring = self.ignoring = self.ignoring or set()
        changed = (key in ignoring) != ignored
        (ignoring.add if ignored else ignoring.discard)(key)
        return changed

    def loggedOut(self) -> None:
        """
        The end of its login (the portal's logout): its name and rooms go
        back to the hub.
        """
        self._hub.quit(self, "connection closed")

    def loggedIn(self, logout: Callable[[], None], certified: bool,
                 account: str | None = None) -> None:
        """
        The portal let it in (and its realm claimed the name).

        @param logout: ends the login, once the connection ends.
        @param certified: whether its certificate named it: such a name
            cannot be changed.
        @param account: the key of the account it logged in to, if any.
        """
        self._logout = logout
        self.certified = certified
        self.account = account

    # -- lines out -------------------------------------------------------

    def reply(self, data: bytes) -> None:
        """
        Answer the line being handled, after earlier answers still on
        their way.
        """
        if self._releasing:
            # The answer to a held line: before the lines held after it.
            if self._busy or self._inflight:
                self._hold(data, first=True)
            else:
                self._write(data)
        elif self._held or self._busy or self._inflight:
            self._hold(data)
        else:
            self._write(data)

    def answer(self, data: bytes) -> None:
        """
        Write a later part of the answer L{waitFor} holds lines for.
        """
        self._write(data)

    def send(self, data: bytes, messageId: int | None = None) -> None:
        """
        Give the client a line that is not an answer to it.
        """
        # A message (it has an id) is a delivery; an event is not.
        self._hub.counters.deliveries += messageId is not None
        if self._catchup is not None:
            self._catchup.append((messageId, data))
        else:
            self._write(data)

    def deliverRun(self, shared: renders.RunCache) -> None:
        """
        Give the client a run of one room's messages in one write, built by
        C{shared} once for everybody with its renderer unless some are its
        own or ignored; one by one while it catches up on history.
        """
        run, block = shared.shown(self.render, self.name, self.ignoring)
        if self._catchup is not None:
            for message in run:
                self.send(self.show(message, shared.where), message.id)
            return
        self._hub.counters.deliveries += len(run)
        if block:
            self._write(block)

    def show(self, message: Message, where: str) -> bytes:
        """
        A stored message as this client sees it live (C{where}: the room's
        or the recipient's displayed name).
        """
        return self.render.message(message, where, message.sender == self.name)

    def closeWith(self, data: bytes) -> None:
        """
        Write a last line now, ahead of anything held back, and hang up:
        whoever is put out must learn why.
        """
        self._write(data)
        self.close()

    def close(self) -> None:
        """
        Hang up once what was written is delivered.
        """
        self.gone = True
        if not self._closed:
            self._closed = True
            self.flush()
            self.connection.close()

    def _write(self, data: bytes) -> None:
        """
        Queue C{data} for the end of the turn, counted against the
        slow-reader bound while it waits.
        """
        if self._closed:
            return
        rules = self._rules
        pressed = rules.owe(len(data))
        if pressed and rules.notReading and self._tooSlow(self._admission.clock.seconds()):
            return
        self._hub.counters.bytesOut += len(data)
        out = self._out
        if out is None:
            self._out = [data]
            self._admission.output.queued(self)
        else:
            out.append(data)
        if pressed and not rules.notReading:
            # As much as a transport buffers before it pauses a client
            # that does not read: hand it over now, so that it can.
            self.flush()

    def flush(self) -> None:
        """
        Write what was queued in this turn, in one write: joined, or the
        very bytes every other recipient of a fan-out got.
        """
        out, self._out = self._out, None
        if out:
            self._rules.handedOver()
            self.connection.write(out[0] if len(out) == 1 else b"".join(out))

    # -- waiting ---------------------------------------------------------

    def waitFor(self, d: Deferred, closing: bytes | None = None) -> None:
        """
        Hold the client's next lines until C{d} (the rest of an answer)
        has fired, then write C{closing} (the answer's last line), if any;
        if C{d} fails, its L{ChatError} is the answer instead.
        """
        self._busy += 1

        def finished(result: object) -> None:
            if closing is not None:
                self.answer(closing)

        def failed(failure: Failure) -> None:
            if not failure.check(ChatError):
                self.log.failure("answering {peer} failed", failure, peer=self.connection.peer)
                failure = Failure(ChatError("that cannot be done right now; try again later"))
            self.answer(self.render.error(failure.getErrorMessage()))

        def done(result: object) -> None:
            self._busy -= 1
            self.release()

        d.addCallbacks(finished, failed).addBoth(done)

    def submitted(self) -> None:
        """
        One of its messages went to the store; its answer waits for it.
        """
        self._inflight += 1

    def settled(self) -> bool:
        """
        One of its messages was answered; whether none is left waiting.
        """
        self._inflight -= 1
        return not self._inflight

    def release(self) -> None:
        """
        Handle the held lines that need not wait any longer.
        """
        if self._releasing:
            return
        self._releasing = True
        try:
            while self._held and not self._busy and not self.gone:
                item = self._held[0]
                if self._inflight and not (isinstance(item, str) and self.isMessageLine(item)):
                    break
                self._held.popleft()
                if isinstance(item, bytes):
                    self._write(item)
                else:
                    self._handle(item)
        finally:
            self._releasing = False
        self._hub.lineDone()

    def catchUp(self) -> None:
        """
        A history is about to be shown: keep back what else comes meanwhile
        (adding to what is kept back already, when another history, of
        another room joined at once, is still on its way).
        """
        if self._catchup is None:
            self._catchup = []

    def caughtUp(self, shown: Iterable[int]) -> None:
        """
        The history is shown: now send what came meanwhile, less the
        messages (by id) the history C{shown}.
        """
        buffered, self._catchup = self._catchup or [], None
        shown = set(shown)
        for messageId, data in buffered:
            if messageId not in shown:
                self._write(data)

    def disconnected(self) -> None:
        """
        The transport is gone; tell the others if it had logged in.
        """
        self._closed = True
        self.gone = True
        self._held = None
        self._out = None
        self._admission.disconnected(self)
        if self._rules.refusals > LOGGED_REFUSALS:
            self.log.info("{peer}: {count} more refused lines not logged",
                          peer=self.connection.peer, count=self._rules.refusals - LOGGED_REFUSALS)
        if self._logout is not None:
            logout, self._logout = self._logout, None
            logout()
