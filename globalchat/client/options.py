# -*- test-case-name: tests.test_client_options -*-
"""
The command line of C{globalchat-client}, and the connection it describes.

Everything a user can get wrong on the command line is checked here,
before anything connects, so that a mistake is one line and exit status
2; what is read here (the CA, the client certificate, a pinned
fingerprint) decides how every connection of the run verifies the server.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from OpenSSL import SSL, crypto
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.ssl import Certificate, PrivateCertificate, optionsForClientTLS

from globalchat import endpoints, tls
from globalchat.client.failover import FailoverEndpoint
from globalchat.commandline import ArgumentParser, portNumber, whyUnusable

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
    parser.add_argument("host", nargs="?",
                        help="the server's name or address; several servers of one chat "
                             "(a cluster's nodes) as HOST1:PORT1,HOST2:PORT2, tried in turn")
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
                        help="show this client certificate (PEM): it logs in to the account "
                             "it was bound to with /cert add, or, on a server that requires "
                             "one, its name is your chat name (implies --tls)")
    parser.add_argument("--key", metavar="FILE",
                        help="the private key of --cert (default: in the same file)")
    parser.add_argument("--password-file", metavar="FILE",
                        help="read the password (your account's, or the server's) from the "
                             "first line of FILE (or set GLOBALCHAT_PASSWORD; on a terminal it "
                             "is asked for)")
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
    options["servers"] = _servers(options["host"], options["port"]) if options["host"] else []
    if options["servers"]:
        options["host"], options["port"] = options["servers"][0]
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
    options["password"] = None
    if options["password_file"]:
        try:
            with open(options["password_file"], encoding="utf-8") as f:
                options["password"] = f.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"cannot read --password-file {options['password_file']}: "
                             f"{whyUnusable(e, 'UTF-8 text')}") from None
    if options["ca"] or options["fingerprint"] or options["cert"]:
        options["tls"] = True
    return options


def _servers(text: str, port: int) -> list[tuple[str, int]]:
    """
    The servers C{HOST} names: one, or several as C{HOST1:PORT1,HOST2:PORT2}
    (an IPv6 address in brackets; a server without a port gets C{port}).
    """
    if "," not in text:
        return [(text, port)]
    servers = []
    for item in text.split(","):
        host, colon, number = item.strip().rpartition(":")
        if not colon or host.count(":") and not host.startswith("["):
            host, number = item.strip(), str(port)
        host = host.strip("[]")
        if not host:
            raise UsageError(f"no host in {item.strip()!r}: write HOST1:PORT1,HOST2:PORT2")
        try:
            servers.append((host, portNumber(number)))
        except argparse.ArgumentTypeError as e:
            raise UsageError(f"the port of {item.strip()!r} {e}") from None
    return servers


def where(host: str, port: int) -> str:
    """
    A server as the user reads it: C{host:port}, an IPv6 address in brackets.
    """
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def makeEndpoint(reactor: IReactorTime, options: dict,
                 creator: IOpenSSLClientConnectionCreator | None = None,
                 ) -> tuple[IStreamClientEndpoint, tls.PinnedCertificate | None]:
    """
    The endpoint the options describe, and the pinning check if there is
    one, so a refused certificate can be explained afterwards.

    @param creator: how to verify TLS, when it was decided already (trust
        on first use).
    """
    if options["endpoint"]:
        return endpoints.clientEndpoint(reactor, options["endpoint"]), None
    if len(options["servers"]) > 1:
        # Each node is verified for its own name, against the CAs.
        made = [(where(host, port), _endpoint(reactor, options, host, port, None)[0])
                for host, port in options["servers"]]
        return FailoverEndpoint(made), None
    return _endpoint(reactor, options, options["host"], options["port"], creator)


def _endpoint(reactor: IReactorTime, options: dict, host: str, port: int,
              creator: IOpenSSLClientConnectionCreator | None,
              ) -> tuple[IStreamClientEndpoint, tls.PinnedCertificate | None]:
    endpoint = HostnameEndpoint(reactor, host, port, timeout=options["timeout"])
    if not options["tls"]:
        return endpoint, None
    if creator is None and options["fingerprint"]:
        creator = tls.PinnedCertificate(options["fingerprint"], host, options["cert"])
    if creator is None:
        creator = optionsForClientTLS(host, trustRoot=options["ca"],
                                      clientCertificate=options["cert"])
    pinned = creator if isinstance(creator, tls.PinnedCertificate) else None
    return wrapClientTLS(creator, endpoint), pinned
