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

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Callable

from OpenSSL import SSL, crypto
from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IHalfCloseableProtocol, IStreamClientEndpoint
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat import endpoints, tls
from globalchat.client.knownhosts import KnownHost, KnownHosts
from globalchat.chat.wire import command, parse
from globalchat.failures import explain
from globalchat.client.render import render
from globalchat.client.session import RETRY_POLICY, ChatSession
from globalchat.client.trust import TrustRefused, trustCreator
from globalchat.commandline import ArgumentParser, helpPointer, portNumber, whyUnusable

DEFAULT_PORT = 12345


class UsageError(Exception):
    """
    The command line cannot be used; the message says why.
    """


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="globalchat-client",
        description=(
            "Connect to a globalchat server. The first line you type (or pipe, "
            "or give with --name) is your name; every later line goes to the "
            "room you are in (#lobby at first), unless it is a command such as "
            "/join ROOM, /msg NAME TEXT or /help."
        ),
    )
    parser.add_argument("host", nargs="?", help="the server's name or address")
    parser.add_argument("port", nargs="?", default=str(DEFAULT_PORT),
                        help=f"the server's port (default {DEFAULT_PORT})")
    parser.add_argument("-t", "--tls", action="store_true",
                        help="use TLS, verifying the server against the system CAs "
                             "(or --ca) and its host name")
    parser.add_argument("-n", "--name", help="log in as NAME instead of reading the "
                                             "name from the input")
    parser.add_argument("--ca", metavar="FILE", help="verify the server against the CA "
                                                     "certificate in this PEM file (implies --tls)")
    parser.add_argument("--fingerprint", metavar="SHA256",
                        help="trust exactly the server certificate with this SHA-256 "
                             "fingerprint, as the server logs it (implies --tls)")
    parser.add_argument("-e", "--endpoint",
                        help="connect to any Twisted client endpoint instead of HOST PORT, "
                             "e.g. tls:chat.example.org:12345 or unix:/run/chat.sock")
    parser.add_argument("--cert", metavar="FILE",
                        help="show this client certificate (PEM) to a server that requires "
                             "one; its name is your chat name (implies --tls)")
    parser.add_argument("--key", metavar="FILE",
                        help="the private key of --cert (default: in the same file)")
    parser.add_argument("--password-file", metavar="FILE",
                        help="read the server's password from the first line of FILE "
                             "(or set GLOBALCHAT_PASSWORD; on a terminal it is asked for)")
    parser.add_argument("--trust-new", action="store_true",
                        help="accept a certificate seen for the first time without asking "
                             "(for scripts; it is then recorded in known_hosts)")
    parser.add_argument("--raw", action="store_true",
                        help="print the server's lines exactly as they arrive, tags "
                             "included (a stored message is still printed once)")
    parser.add_argument("--timeout", default="10", metavar="SECONDS",
                        help="how long to wait for the connection, for the server's "
                             "answers once the input has ended and, from a pipe, to "
                             "reconnect after the connection dropped (default 10)")
    parser.add_argument("--no-reconnect", action="store_true",
                        help="exit when the connection drops instead of reconnecting "
                             "and resuming where it left off")
    return parser


def parseArguments(argv: list[str]) -> dict:
    """
    Read and check the command line.

    @raise UsageError: naming the first problem found.
    @raise SystemExit: for C{--help}.
    """
    parser = _parser()
    parsed = parser.parse_args(argv)
    options = vars(parsed)
    if options["name"] is not None and not options["name"].strip():
        raise UsageError("--name must not be empty: give the name to chat under")
    if options["endpoint"]:
        if options["host"] or options["tls"] or options["ca"] or options["fingerprint"] or options["cert"]:
            raise UsageError(
                "--endpoint describes the whole connection: give it alone, "
                "without HOST, --tls, --ca or --fingerprint"
            )
        from twisted.internet import reactor

        # Checked now, for a one-line answer before anything starts.
        try:
            endpoints.clientEndpoint(reactor, options["endpoint"])
        except endpoints.BadEndpoint as e:
            raise UsageError(str(e)) from None
    elif not options["host"]:
        raise UsageError("which server? give HOST (and PORT), or --endpoint")
    try:
        options["port"] = portNumber(options["port"])
    except argparse.ArgumentTypeError as e:
        raise UsageError(f"PORT {e}") from None
    try:
        options["timeout"] = float(options["timeout"])
    except ValueError:
        options["timeout"] = -1.0
    if not options["timeout"] > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    if options["fingerprint"]:
        try:
            options["fingerprint"] = tls.parseFingerprint(options["fingerprint"])
        except ValueError as e:
            raise UsageError(str(e)) from None
    if options["ca"]:
        try:
            options["ca"] = Certificate.loadPEM(Path(options["ca"]).read_bytes())
        except (OSError, SSL.Error, crypto.Error, ValueError) as e:
            raise UsageError(
                f"cannot read --ca {options['ca']}: {whyUnusable(e, 'a PEM certificate')}"
            ) from None
    if options["cert"]:
        try:
            certificate = Path(options["cert"]).read_bytes()
            key = Path(options["key"]).read_bytes() if options["key"] else b""
            options["cert"] = PrivateCertificate.loadPEM(certificate + b"\n" + key)
        except (OSError, SSL.Error, crypto.Error, ValueError) as e:
            raise UsageError(
                "cannot read --cert/--key: "
                f"{whyUnusable(e, 'a PEM certificate and its key (give the key with --key)')}"
            ) from None
    if options["ca"] or options["fingerprint"] or options["cert"]:
        options["tls"] = True
    return options


def makeEndpoint(reactor, options: dict, creator=None) -> tuple[IStreamClientEndpoint, tls.PinnedCertificate | None]:
    """
    The endpoint the options describe, and the pinning check if there is
    one, so a refused certificate can be explained afterwards.

    @param creator: how to verify TLS, when it was decided already (trust
        on first use).
    """
    if options["endpoint"]:
        return endpoints.clientEndpoint(reactor, options["endpoint"]), None
    host = options["host"]
    endpoint = HostnameEndpoint(reactor, host, options["port"], timeout=options["timeout"])
    if not options["tls"]:
        return endpoint, None
    if creator is None and options["fingerprint"]:
        creator = tls.PinnedCertificate(options["fingerprint"], host, options["cert"])
    if creator is None:
        creator = optionsForClientTLS(host, trustRoot=options["ca"],
                                      clientCertificate=options["cert"])
    pinned = creator if isinstance(creator, tls.PinnedCertificate) else None
    return wrapClientTLS(creator, endpoint), pinned


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
        self._where = options["endpoint"] or f"{options['host']}:{options['port']}"
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
        if self._options["tls"] and not (self._options["ca"] or self._options["fingerprint"]):
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
        endpoint, self._pinned = makeEndpoint(self._reactor, self._options, creator)
        if not await self.connect(endpoint):
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
        text = line if self._options["raw"] else render(
            line, colour=self._interactive,
            stamp=self._reactor.seconds() if self._interactive else None)
        if text is not None:
            self._write(text)
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

    def nameRefused(self, dropped: int) -> None:
        """
        The name was refused (the reason is the error line just shown):
        on a terminal the user types another; a script's name is its
        first line or --name, and its other lines are not names, so it
        ends here.
        """
        if not self._interactive:
            self.finish(1, f"{self._where} did not take the name, so nothing else was sent")
            return
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

    def password(self) -> str | None:
        """
        The password, from --password-file, GLOBALCHAT_PASSWORD or, on a
        terminal, a prompt without echo; never from the command line.  The
        one given first is given again on every reconnection.
        """
        if self._passwordGiven is None:
            self._passwordGiven = self._readPassword()
        if self._passwordGiven is None:
            self.finish(1, f"{self._where} asks for a password: set GLOBALCHAT_PASSWORD "
                           "or use --password-file")
        return self._passwordGiven

    def _readPassword(self) -> str | None:
        if self._options["password_file"]:
            try:
                with open(self._options["password_file"], encoding="utf-8") as f:
                    return f.readline().rstrip("\r\n")
            except OSError as e:
                self._error(f"cannot read --password-file: {e.strerror}")
                return None
        if os.environ.get("GLOBALCHAT_PASSWORD"):
            return os.environ["GLOBALCHAT_PASSWORD"]
        if self._interactive:
            return getpass.getpass(f"Password for {self._where}: ")
        return None

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
