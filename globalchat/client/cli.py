# -*- test-case-name: tests.test_client_cli -*-
"""
C{globalchat-client}: chat from a terminal, or from a script through a pipe.

On a terminal, typed lines go to the server and its lines are printed.
From a pipe, every piped line is sent and the command exits once the
server has answered the last one, so C{echo John | globalchat-client HOST}
prints the greeting and returns.  Either way a dropped connection is
resumed (L{globalchat.client.session}) unless C{--no-reconnect}.
"""

from __future__ import annotations

import sys
from typing import Callable

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IHalfCloseableProtocol, IStreamClientEndpoint
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.chat.wire import command, parse
from globalchat.client.failover import FailoverEndpoint
from globalchat.client.knownhosts import KnownHost, KnownHosts
from globalchat.client.options import UsageError, makeEndpoint, parseArguments, where
from globalchat.client.passwords import NoPassword, loginPassword, registerLine
from globalchat.client.render import render
from globalchat.client.session import RETRY_POLICY, ChatSession
from globalchat.client.trust import TrustRefused, trustCreator
from globalchat.commandline import helpPointer
from globalchat.failures import explain


@implementer(IHalfCloseableProtocol)
class _Input(LineReceiver):
    """
    Standard input and output.  Input lines are handed on unchanged
    (any length: the server decides what is too long).
    """

    delimiter = b"\n"
    MAX_LENGTH = sys.maxsize

    def __init__(self, client: Client) -> None:
        self._client = client
        self.closed: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        self._client.inputLine(line.removesuffix(b"\r"))

    def readConnectionLost(self) -> None:
        if self._buffer:
            # A last line without a newline is still a line.
            line, self._buffer = self._buffer, b""
            self.lineReceived(line)
        self._client.inputEnded()

    def writeConnectionLost(self) -> None:
        self._client.finish(1, "standard output was closed")

    def connectionLost(self, reason: Failure) -> None:
        self.closed.callback(None)


class Client:
    """
    Ties a chat session to standard input and output, tells the user how
    the connection is doing, and decides when the command is done and
    with which exit status.
    """

    def __init__(self, reactor, options: dict, interactive: bool) -> None:
        self._reactor = reactor
        self._options = options
        self._interactive = interactive
        self._endpoint: IStreamClientEndpoint | None = None
        self._session: ChatSession | None = None
        self._stdio = None
        self._input: _Input | None = None
        self._inputEnded = False
        self._timer = None
        self._pinned = None
        self._known: KnownHost | None = None
        self._passwordGiven: str | None = None
        self.done: Deferred[int] = Deferred()

    async def run(self) -> int:
        """
        Connect, chat, and return the exit status.
        """
        creator = None
        if self._options["tls"] and not (self._options["ca"] or self._options["fingerprint"]
                                         or len(self._options["servers"]) > 1):
            try:
                creator, self._known = await trustCreator(
                    self._reactor, self._options["host"], self._options["port"],
                    self._options["timeout"], KnownHosts(), self._accept,
                    self._options["cert"])
            except TrustRefused as e:
                self._error(str(e))
                return 1
            except Exception:
                self._error(explain(Failure(), self._where))
                return 1
        # Decided once: every reconnection verifies the server the same way.
        self._endpoint, self._pinned = makeEndpoint(self._reactor, self._options, creator)
        if not await self.connect(self._endpoint):
            return 1
        if self.done.called:
            return await self.done
        if self._interactive:
            self._status(f"connected to {self._where}" + ("" if self._options["name"] else "; type your name"))
        from twisted.internet.stdio import StandardIO

        self._input = _Input(self)
        self._stdio = StandardIO(self._input, reactor=self._reactor)
        self._session.setProducer(self._stdio)
        return await self.done

    @property
    def _where(self) -> str:
        """
        The server, as the user named it: of several, the one tried last.
        """
        if isinstance(self._endpoint, FailoverEndpoint):
            return self._endpoint.where
        return self._options["endpoint"] or where(self._options["host"], self._options["port"])

    async def connect(self, endpoint: IStreamClientEndpoint,
                      retryPolicy: Callable[[int], float] = RETRY_POLICY) -> bool:
        """
        Start the chat session over C{endpoint}.

        @return: whether the first connection was made; if not, the user
            was told why.
        """
        self._session = ChatSession(
            endpoint, self._reactor, self, name=self._options["name"],
            reconnect=not self._options["no_reconnect"], timeout=self._options["timeout"],
            retryPolicy=retryPolicy)
        try:
            await self._session.start()
        except Exception:
            self._error(explain(Failure(), self._where, self._pinned))
            return False
        return True

    def inputLine(self, line: bytes) -> None:
        if self.done.called:
            return
        if self._interactive:
            try:
                line = registerLine(line)
            except ValueError as e:
                self._status(f"{e}; nothing was sent")
                return
        if (self._interactive and not self._session.connected
                and command(line.decode("utf-8", "replace").strip()) == "quit"):
            # Nobody to say goodbye to.  (From a pipe, the lines before it
            # are still to be delivered.)
            self.finish(0)
            return
        self._session.send(line)

    def inputEnded(self) -> None:
        self._inputEnded = True
        if self._interactive:
            self.finish(0)
        elif self._session.connected:
            self._waitForAnswers()
            self._checkDone()

    def serverLine(self, line: str) -> None:
        if self.done.called:
            # Lines that came with the last answer, once we are leaving.
            return
        self._show(line)
        answer = parse(line)
        if answer.kind == "OK" and answer.text == "quit":
            # The server hangs up next: that is no reason to reconnect.
            self.finish(1 if self._session.errors else 0)
            return
        if self._timer is not None and self._timer.active() and self._inputEnded:
            self._waitForAnswers()
        self._checkDone()

    def loggedIn(self, name: str, again: bool) -> None:
        if again:
            self._status(f"back on {self._where} as {name}")
            self._cancelTimer()
            if self._inputEnded:
                self._waitForAnswers()

    def disconnected(self, reason: Failure) -> None:
        self._status("disconnected: " + explain(reason, self._where, self._pinned, True, self._known))
        self._cancelTimer()
        if not self._interactive:
            self._wait(lambda: f"could not reconnect to {self._where} within "
                               f"{self._options['timeout']:g} s; {self._session.unanswered} "
                               "line(s) not sent or not answered")

    def reconnecting(self, delay: float) -> None:
        self._status(f"reconnecting to {self._where} in {delay:.1f} s")

    def nameRefused(self, line: str, name: str, password: bool, dropped: int) -> None:
        """
        The name, or its password, was refused: on a terminal the server's
        reason is shown and the user types another name; a script's name
        is its first line or --name, and its other lines are not names, so
        it ends here, with the reason in one line.
        """
        if not self._interactive:
            if self._options["raw"]:
                self._show(line)
            refused = f"the password for {name}" if password else f"the name {name}"
            self.finish(1, f"{self._where} refused {refused}: {parse(line).text} "
                           "(nothing else was sent)")
            return
        self._show(line)
        # A password is asked for again with the next name.
        self._passwordGiven = None
        unsent = f" ({dropped} line(s) typed meanwhile were not sent)" if dropped else ""
        self._status(f"type another name{unsent}")

    def nameTaken(self, name: str, delay: float) -> None:
        self._status(f"{self._where} still holds the name {name} for the old connection; "
                     f"trying again in {delay:.1f} s")

    def failed(self, reason: Failure) -> None:
        self.finish(1, explain(reason, self._where, self._pinned, self._session.heardFrom,
                               self._known))

    def refused(self, message: str) -> None:
        self.finish(1, f"{self._where} refused to take us back: {message}")

    def password(self, name: str) -> str | None:
        """
        The password for C{name} (L{loginPassword}).  The one given first is
        given again on every reconnection.
        """
        if self._passwordGiven is None:
            try:
                self._passwordGiven = loginPassword(name, self._options["password"],
                                                    self._interactive)
            except NoPassword as e:
                self.finish(1, f"{self._where} asks for a password for {name}: {e}")
        return self._passwordGiven

    def _show(self, line: str) -> None:
        """
        Print a server line: as it came with --raw, else for a person.
        """
        text = line if self._options["raw"] else render(
            line, colour=self._interactive,
            stamp=self._reactor.seconds() if self._interactive else None)
        if text is not None:
            self._write(text)

    def _write(self, text: str) -> None:
        if self._stdio is not None:
            self._stdio.write(text.encode("utf-8") + b"\n")
        else:
            sys.stdout.write(text + "\n")

    def _accept(self, fingerprint: str) -> bool:
        """
        Whether to trust a certificate seen for the first time: the user
        says so on a terminal; a script must have said --trust-new.
        """
        if self._options["trust_new"]:
            self._status(f"trusting the new certificate {fingerprint} of {self._where}")
            return True
        if not self._interactive:
            return False
        sys.stderr.write(
            f"The certificate of {self._where} is not signed by a CA you trust.\n"
            f"Its fingerprint is {fingerprint}\n"
            "Check it with the server's owner. Trust it and remember it? [y/N] "
        )
        sys.stderr.flush()
        # Nothing else is going on yet: a blocking read is the simplest prompt.
        return sys.stdin.readline().strip().lower() in ("y", "yes")

    def _waitForAnswers(self) -> None:
        """
        From a pipe whose input has ended: give the server --timeout
        seconds of silence before giving up on the answers still due.
        """
        self._wait(lambda: f"{self._where} did not answer {self._session.unanswered} "
                           f"line(s) within {self._options['timeout']:g} s")

    def _wait(self, failure: Callable[[], str]) -> None:
        """
        Give up, saying C{failure()}, unless something happens within
        --timeout.
        """
        self._cancelTimer()
        self._timer = self._reactor.callLater(
            self._options["timeout"], lambda: self.finish(1, failure()))

    def _cancelTimer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _checkDone(self) -> None:
        if self._inputEnded and not self._interactive and self._session.idle:
            self.finish(1 if self._session.errors else 0)

    def finish(self, code: int, message: str | None = None) -> None:
        """
        End the command once, closing the connection and flushing output.
        """
        if self.done.called:
            return
        self._cancelTimer()
        if message:
            self._error(message)
        if self._session is not None:
            self._session.stop()
        if self._stdio is not None:
            self._stdio.loseConnection()
            self._input.closed.addCallback(lambda _: self.done.callback(code))
        else:
            self.done.callback(code)

    def _status(self, text: str) -> None:
        sys.stderr.write(f"* {text}\n")

    def _error(self, text: str) -> None:
        sys.stderr.write(f"globalchat-client: {text}\n")


def main(argv: list[str] | None = None) -> None:
    """
    Entry point of C{globalchat-client}.
    """
    try:
        options = parseArguments(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        sys.stderr.write(f"globalchat-client: {e}{helpPointer('globalchat-client')}\n")
        raise SystemExit(2)
    from twisted.internet.task import react

    def start(reactor):
        client = Client(reactor, options, interactive=sys.stdin.isatty())
        d = ensureDeferred(client.run())
        d.addCallback(lambda code: sys.exit(code) if code else None)
        return d

    react(start)
