# -*- test-case-name: tests.test_tap -*-
"""
C{twistd globalchat}: command-line options and the service they build.
"""

from __future__ import annotations

from pathlib import Path

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import MultiService
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IReactorCore
from twisted.logger import Logger
from twisted.python import usage

from globalchat import tls
from globalchat.chat import wire
from globalchat.chat.hub import Hub
from globalchat.server import DEFAULT_MAX_LINE_LENGTH, ChatFactory, describePeer

DEFAULT_PORT = "tcp:12345"

log = Logger()


class StartupError(SystemExit):
    """
    The server cannot start; the message is the one line printed.

    twistd answers a L{usage.UsageError} with its whole usage text and an
    exception from a service with a traceback; someone who mistyped a port
    or holds it twice needs one line that names the problem, and a
    non-zero exit status, which is what C{SystemExit} with a message gives.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"globalchat: {message}")


class ListeningService(StreamServerEndpointService):
    """
    Listen on one endpoint, log the address actually bound, and turn a
    failure to listen (port in use, permission denied) into a
    L{StartupError}.
    """

    _raiseSynchronously = True

    def __init__(self, endpoint, factory, description: str) -> None:
        super().__init__(endpoint, factory)
        self.description = description

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()
        except Exception as e:
            raise StartupError(f"cannot listen on {self.description}: {e}") from None
        self._waitingForPort.addCallback(self._listening)

    def _listening(self, port):
        log.info(
            "listening on {address} ({endpoint})",
            address=describePeer(port.getHost()),
            endpoint=self.description,
        )
        return port


def _positiveInt(name: str, value: str, maximum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 0 < number <= maximum:
        raise StartupError(f"--{name} must be a whole number from 1 to {maximum}, not {value!r}")
    return number


class Options(usage.Options):
    """
    Options of C{twistd globalchat}.
    """

    synopsis = "[--port ENDPOINT]... [options]"
    longdesc = (
        "A chat server reachable across the internet. The first line a client "
        "sends is its name; every later line goes to everyone connected."
    )

    optParameters = [
        ["greeting", None, wire.DEFAULT_GREETING,
         "Welcome line sent after the name; {name} is replaced by it."],
        ["max-line-length", None, str(DEFAULT_MAX_LINE_LENGTH),
         "Longest line accepted from a client, in bytes."],
        ["data-dir", None, "globalchat-data",
         "Directory for the server's own files (the TLS certificate)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["ports"] = []

    def opt_port(self, description: str) -> None:
        """
        Listen on a Twisted server endpoint, e.g. tcp:12345, ssl:12345,
        tcp6:12345:interface=\\:\\:, unix:/run/chat.sock (repeatable;
        default tcp:12345).
        """
        self["ports"].append(description)

    opt_p = opt_port

    def postOptions(self) -> None:
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        try:
            self["greeting"].format(name="John")
        except (KeyError, IndexError, ValueError) as e:
            raise StartupError(
                f"--greeting may only use the {{name}} placeholder ({e!r})"
            ) from None
        self["max-line-length"] = _positiveInt(
            "max-line-length", self["max-line-length"], 1024 * 1024
        )
        self["data-dir"] = Path(self["data-dir"])


def _prepareEndpoint(description: str, dataDir: Path) -> str:
    """
    Give an C{ssl:} endpoint without a key the data directory's
    certificate (made on first use) and log the fingerprint clients pin.
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
    if certificate is not None:
        try:
            digest = tls.fingerprint(certificate.read_bytes())
        except (OSError, ValueError) as e:
            raise StartupError(f"cannot read TLS certificate {certificate}: {e}") from None
        log.info(
            "TLS certificate {path} has fingerprint {fingerprint}",
            path=str(certificate),
            fingerprint=digest,
        )
    return description


def makeService(config: Options, reactor: IReactorCore | None = None) -> MultiService:
    """
    Build the server: one hub shared by a listening service per C{--port}.
    """
    if reactor is None:
        from twisted.internet import reactor
    hub = Hub(greeting=config["greeting"])
    factory = ChatFactory(hub, maxLineLength=config["max-line-length"])
    top = MultiService()
    for description in config["ports"]:
        prepared = _prepareEndpoint(description, config["data-dir"])
        try:
            endpoint = serverFromString(reactor, prepared)
        except Exception as e:
            raise StartupError(f"bad --port {description!r}: {e}") from None
        ListeningService(endpoint, factory, description).setServiceParent(top)
    return top
