# -*- test-case-name: tests.test_tap -*-
"""
The pieces C{twistd globalchat} is built from, besides the chat: its
listening ports (bound before twistd forks, so that a port in use is one
line on the terminal), their TLS certificate, the open-files limit, the
security log, and the one-line start-up error.
"""


from __future__ import annotations

import errno
import ipaddress
import resource
from pathlib import Path
from typing import Callable

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import (
    SSL4ServerEndpoint,
    TCP4ServerEndpoint,
    TCP6ServerEndpoint,
    UNIXServerEndpoint,
)
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.logger import (
    FilteringLogObserver,
    Logger,
    PredicateResult,
    globalLogPublisher,
    jsonFileLogObserver,
)

from globalchat import tls
from globalchat.chat.errors import ChatError
from globalchat.chat.text import checkText
from globalchat.commandline import whyUnusable
from globalchat.expose.gateway import globalIPv6Addresses
from globalchat.expose.mapper import (
    PortMapperService,
    Target,
)
from globalchat.server import describePeer
from globalchat.store.interface import Known, StoreError
from globalchat.store.memory import MemoryStore
from globalchat.store.service import HistoryService
from globalchat.store.sqlite import MessageStore

#: The history's file in the data directory.
HISTORY_FILE = "history.sqlite3"

#: The listen queue of TCP and TLS ports, unless the endpoint names one
#: (the kernel caps it at net.core.somaxconn).
LISTEN_BACKLOG = 1024

#: Open files the server needs besides its connections.
FILE_MARGIN = 32

#: Endpoints whose C{listen} binds a socket at once.  These are bound while
#: twistd builds the service, before it forks into the background, so that
#: a port in use is one line on the terminal and a non-zero exit status in
#: the background as in the foreground (see L{ListeningService.bind}).
_BOUND_AT_ONCE = (TCP4ServerEndpoint, TCP6ServerEndpoint, SSL4ServerEndpoint, UNIXServerEndpoint)

#: What to do about the usual reasons a port cannot be listened on.
_LISTEN_HINTS = {
    errno.EADDRINUSE: "another program, perhaps another globalchat, listens there: stop "
                      "it or choose another --port",
    errno.EACCES: "ports below 1024 need root: choose a port from 1024 up",
    errno.EADDRNOTAVAIL: "this machine has no such address: leave out interface= or use "
                         "one of its addresses",
}

log = Logger()


class StartupError(SystemExit):
    """
    The server cannot start; the message is the one line printed.

    twistd answers a L{usage.UsageError} with its whole usage text and an
    exception from a service with a traceback; someone who mistyped a port
    or holds it twice needs one line that names the problem, and a
    non-zero exit status, which is what C{SystemExit} with a message gives.

    It is raised only while the options are parsed and the service is
    built, before twistd forks into the background and before it starts
    logging: then the line goes to the terminal either way.  After the
    fork, twistd's waiting parent hears of exceptions only, never of a
    C{SystemExit}, and would wait forever.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"globalchat: {message}")


def _whyNotListening(error: Exception) -> str:
    """
    Why a port cannot be listened on, and what to do about it.
    """
    socketError = error.socketError if isinstance(error, CannotListenError) else None
    if not isinstance(socketError, OSError) or not socketError.strerror:
        return str(error)
    hint = _LISTEN_HINTS.get(socketError.errno)
    return socketError.strerror + (f" ({hint})" if hint else "")


class ListeningService(StreamServerEndpointService):
    """
    Listen on one endpoint and log the address actually bound.
    """

    _raiseSynchronously = True

    def __init__(self, endpoint, factory, description: str) -> None:
        super().__init__(endpoint, factory)
        self.description = description
        self._port: IListeningPort | None = None
        self._whenListening: list[Deferred[IListeningPort]] = []

    def whenListening(self) -> Deferred[IListeningPort]:
        """
        Fires with the listening port once it is bound, so that what
        depends on the real port number (C{tcp:0}, port mapping) can wait
        for it.
        """
        if self._port is not None:
            return succeed(self._port)
        d: Deferred[IListeningPort] = Deferred()
        self._whenListening.append(d)
        return d

    def bind(self) -> None:
        """
        Listen now, while twistd builds the service, if the endpoint binds
        a socket at once; other endpoints (an onion service, which has to
        start Tor) listen when the service starts.

        Binding before twistd forks is what lets a port in use stop the
        server with one line on the terminal and a non-zero exit status,
        even in the background; the reactor keeps the port across the
        fork, and twistd binds no earlier than this with privileges either.

        @raise StartupError: when it cannot listen.
        """
        if not isinstance(self.endpoint, _BOUND_AT_ONCE):
            return
        try:
            self.privilegedStartService()
        except Exception as e:
            raise StartupError(
                f"cannot listen on {self.description}: {_whyNotListening(e)}") from None

    def privilegedStartService(self) -> None:
        if self._waitingForPort is None:
            super().privilegedStartService()
            self._waitingForPort.addCallback(self._listening)

    def _listening(self, port):
        self._port = port
        log.info(
            "listening on {address} ({endpoint})",
            address=describePeer(port.getHost()),
            endpoint=self.description,
        )
        waiting, self._whenListening = self._whenListening, []
        for d in waiting:
            d.callback(port)
        return port


class SecurityLog(Service):
    """
    Copies the structured security events (those with a C{security} key)
    to a file as JSON lines, for fail2ban-style tools and audits.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._file = None
        self._observer = None

    def startService(self) -> None:
        super().startService()
        self._file = open(self._path, "a", encoding="utf-8")
        self._observer = FilteringLogObserver(
            jsonFileLogObserver(self._file, recordSeparator=""),
            [lambda event: PredicateResult.yes if "security" in event else PredicateResult.no],
        )
        globalLogPublisher.addObserver(self._observer)

    def stopService(self) -> None:
        super().stopService()
        globalLogPublisher.removeObserver(self._observer)
        self._file.close()


def withBacklog(description: str) -> str:
    """
    Give a TCP or TLS endpoint without its own C{backlog=} a listen queue
    of L{LISTEN_BACKLOG}: Twisted's default of 50 overflows when hundreds
    of clients connect at once (after a restart, say), and the kernel then
    drops their connection attempts, which retry only seconds later.
    """
    if description.split(":", 1)[0] in ("tcp", "tcp6", "ssl") and "backlog=" not in description:
        return f"{description}:backlog={LISTEN_BACKLOG}"
    return description


def prepareEndpoint(description: str, dataDir: Path) -> tuple[str, str | None]:
    """
    Give an C{ssl:} endpoint without a key the data directory's
    certificate (made on first use) and log the fingerprint clients pin.

    @return: the endpoint description to listen on, and the fingerprint of
        its certificate (C{None} when it is not TLS).
    """
    if tls.needsCertificate(description):
        try:
            certificate, key, created = tls.ensureCertificate(dataDir)
        except OSError as e:
            raise StartupError(f"cannot make a TLS certificate in {dataDir}: {e}") from None
        if created:
            log.info("created a self-signed TLS certificate {path}", path=str(certificate))
        description = tls.withCertificate(description, certificate, key)
    certificate = tls.certificateFor(description)
    if certificate is None:
        return description, None
    try:
        digest = tls.fingerprint(certificate.read_bytes())
    except (OSError, ValueError) as e:
        raise StartupError(f"cannot read TLS certificate {certificate}: "
                           f"{whyUnusable(e, 'a PEM certificate')}") from None
    log.info(
        "TLS certificate {path} has fingerprint {fingerprint}",
        path=str(certificate),
        fingerprint=digest,
    )
    return description, digest


def exposeWhenListening(
    mapper: PortMapperService, listener: ListeningService, fingerprint: str | None,
    web: bool = False,
) -> None:
    """
    Hand the listener's port to the mapper once it is bound, unless no
    gateway could forward to it.

    @param web: whether it is a C{--web} port, which friends open in a
        browser.
    """

    def listening(port: IListeningPort) -> IListeningPort:
        address = port.getHost()
        host = getattr(address, "host", None)
        if getattr(address, "type", None) != "TCP" or host is None:
            log.info("not exposed: {endpoint} is not a TCP port", endpoint=listener.description)
        elif ipaddress.ip_address(host.split("%")[0]).is_loopback:
            log.warn(
                "not exposed: {endpoint} listens on {host} only; listen on all "
                "addresses (e.g. tcp:{port}) to be reachable",
                endpoint=listener.description, host=host, port=address.port,
            )
        elif ipaddress.ip_address(host.split("%")[0]).version == 6:
            addresses = globalIPv6Addresses()
            log.info(
                "{endpoint} is an IPv6 port; this machine's global IPv6 addresses: "
                "{addresses}", endpoint=listener.description,
                addresses=", ".join(addresses) or "none",
            )
            if addresses:
                mapper.expose(Target(address.port, fingerprint, ipv6=True, web=web))
        else:
            mapper.expose(Target(address.port, fingerprint, web=web))
        return port

    listener.whenListening().addCallback(listening)


def raiseFileLimit(wanted: int) -> None:
    """
    Let the server hold as many connections as it may accept: raise the
    soft limit on open files (often 1024) to the hard limit, and say so,
    and warn when even that is below C{wanted}.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        log.info("raised the open files limit from {soft} to {hard}", soft=soft, hard=hard)
        soft = hard
    # A few descriptors go to the listening ports, the history and logs.
    if soft != resource.RLIM_INFINITY and wanted > soft - FILE_MARGIN:
        log.warn(
            "the open files limit ({limit}) allows about {usable} connections, fewer than "
            "--max-connections {wanted}: raise it (ulimit -Hn, LimitNOFILE=) or lower "
            "--max-connections", limit=soft, usable=soft - FILE_MARGIN, wanted=wanted)


def historyService(config,
                    reactor: IReactorTime) -> tuple[HistoryService, dict[str, Known]]:
    """
    The history the options ask for, checked now, so that a database that
    cannot be used stops the server before it listens; and the names it
    knows.
    """
    if config["no-history"]:
        store = MemoryStore()
    else:
        directory = config["data-dir"]
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StartupError(f"cannot create --data-dir {directory}: {e.strerror}") from None
        store = MessageStore(reactor, str(directory / HISTORY_FILE))
    try:
        known = store.load()
    except StoreError as e:
        raise StartupError(str(e)) from None
    days = config["history-days"]
    service = HistoryService(store, reactor, None if days is None else days * 86400.0,
                             config["history-max"])
    if not config["no-history"]:
        log.info("history in {path} ({count} names known)",
                 path=str(config["data-dir"] / HISTORY_FILE), count=len(known))
    return service, known


def readLines(option: str, path: Path) -> list[str]:
    """
    The lines of a text file an option names (C{--motd}, C{--operators}).

    @raise StartupError: naming the option, the file and the problem: it
        cannot be read, is not UTF-8, or holds control characters.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise StartupError(f"cannot read --{option} {path}: {whyUnusable(e, 'UTF-8 text')}") from None
    for number, line in enumerate(lines, 1):
        checkedLine(checkText, option, path, line, number)
    return lines


def checkedLine(check: Callable[[str], object], option: str, path: Path, line: str,
            number: int | None = None) -> str:
    """
    C{line} of the file C{--option} names, once C{check} takes it.

    @raise StartupError: with the check's words, the file and the line.
    """
    try:
        check(line.strip())
    except ChatError as e:
        where = f", line {number}" if number is not None else ""
        raise StartupError(f"--{option} {path}{where}: {e}") from None
    return line.strip()


def warnWithoutCertificates(endpoint: str, accounts: bool) -> None:
    """
    Say at start what a port without TLS allows beside C{--client-ca}
    ports, where certificates name the users.
    """
    log.warn("{endpoint} is not TLS, so --client-ca does not apply to it: {what}",
             endpoint=endpoint, what=(
                 "a certificate's name is its holder's on every port from their first login, "
                 "and any other name can be used there" if accounts else
                 "with --accounts off, anyone there can use a certificate holder's name: "
                 "listen on ssl: ports only"))
