# -*- test-case-name: tests.test_cluster_connection -*-
"""
Where a cluster's Redis is (the C{--cluster} URL), and the check made at
start-up, before the reactor runs, that it can be used: a node that
started without its cluster would only refuse everything.  The password
is kept out of every line this says.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from twisted.internet import ssl as twistedssl
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint

DEFAULT_PORT = 6379

#: Seconds the start-up check, and a connection attempt, may take.
CONNECT_TIMEOUT = 5.0

EXAMPLE = "redis://127.0.0.1:6379/0"


class BadClusterURL(ValueError):
    """
    A C{--cluster} URL that cannot be used; C{str()} is the one line that
    says why (never with the password).
    """


@dataclass(frozen=True)
class ClusterAddress:
    """
    Where a cluster's Redis is, and how to log in to it.

    @ivar ca: for C{rediss:}, a PEM file of the authority that signed
        Redis's certificate; C{None} trusts the system's authorities.
    """

    host: str
    port: int = DEFAULT_PORT
    db: int = 0
    tls: bool = False
    ca: str | None = None
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'rediss' if self.tls else 'redis'}://{host}:{self.port}/{self.db}"

    def endpoint(self, reactor) -> IStreamClientEndpoint:
        """
        The client endpoint to Redis, with TLS verified as L{tlsOptions} says.
        """
        endpoint = HostnameEndpoint(reactor, self.host, self.port, timeout=CONNECT_TIMEOUT)
        return wrapClientTLS(self.tlsOptions(), endpoint) if self.tls else endpoint

    def tlsOptions(self):
        """
        TLS that verifies Redis's certificate and host name: against the
        C{ca} file if given, else the system's authorities.

        @raise BadClusterURL: if the C{ca} file cannot be read.
        """
        trustRoot = None
        if self.ca is not None:
            try:
                with open(self.ca, "rb") as f:
                    trustRoot = twistedssl.Certificate.loadPEM(f.read())
            except OSError as e:
                raise BadClusterURL(f"cannot read --cluster ca={self.ca}: {e.strerror}") from None
            except Exception:
                raise BadClusterURL(f"--cluster ca={self.ca} is not a PEM certificate") from None
        return twistedssl.optionsForClientTLS(self.host, trustRoot=trustRoot)


def parseURL(url: str) -> ClusterAddress:
    """
    Read C{redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]} or the same with
    C{rediss://} (TLS) and an optional C{?ca=FILE}.

    @raise BadClusterURL: saying what is wrong and what a good one looks
        like, without repeating the URL (it may hold a password).
    """
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        raise BadClusterURL(f"bad --cluster URL: its port is not a number; it should look "
                            f"like {EXAMPLE}") from None
    if parts.scheme not in ("redis", "rediss"):
        raise BadClusterURL(f"bad --cluster URL: it should start with redis:// (or rediss:// "
                            f"for TLS), like {EXAMPLE}")
    if not host:
        raise BadClusterURL(f"bad --cluster URL: it names no host; it should look like {EXAMPLE}")
    path = parts.path.strip("/")
    if path and not (path.isdigit() and path.isascii()):
        raise BadClusterURL(f"bad --cluster URL: the database must be a number, as the 0 in "
                            f"{EXAMPLE}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    ca = query.pop("ca", None)
    if query:
        raise BadClusterURL(f"bad --cluster URL: unknown parameter {sorted(query)[0]}= "
                            "(only ca=FILE is known)")
    if ca is not None and parts.scheme != "rediss":
        raise BadClusterURL("bad --cluster URL: ca= is for rediss:// (Redis over TLS)")
    if ca == "":
        raise BadClusterURL("bad --cluster URL: ca= needs a file name")
    return ClusterAddress(host, port or DEFAULT_PORT, int(path or 0), parts.scheme == "rediss",
                          ca, unquote(parts.username) if parts.username else None,
                          unquote(parts.password) if parts.password is not None else None)


class Unreachable(Exception):
    """
    Redis cannot be used at start-up; C{str()} is the one line that says why.
    """


def probe(address: ClusterAddress, timeout: float = CONNECT_TIMEOUT) -> None:
    """
    Check, before the reactor runs, that Redis answers and takes the
    password: a node that starts without its cluster would only refuse
    everything.  Blocking, once, while the server is being built (as its
    ports are bound then).

    @raise Unreachable: saying why not.
    """
    where = f"Redis at {address}"
    try:
        with socket.create_connection((address.host, address.port), timeout) as raw:
            conn = raw
            if address.tls:
                context = ssl.create_default_context(cafile=address.ca)
                conn = context.wrap_socket(raw, server_hostname=address.host)
            reader = conn.makefile("rb")
            if address.password is not None:
                auth = [address.username, address.password] if address.username else [
                    address.password]
                _check(conn, reader, ["AUTH", *auth], where, "refused the password")
            _check(conn, reader, ["SELECT", str(address.db)], where,
                   f"has no database {address.db}")
            _check(conn, reader, ["PING"], where, "refused to answer")
    except ssl.SSLCertVerificationError as e:
        raise Unreachable(f"the TLS certificate of {where} cannot be trusted: "
                          f"{e.verify_message} (a private authority's certificate goes in "
                          "?ca=FILE)") from None
    except ssl.SSLError as e:
        raise Unreachable(f"cannot speak TLS with {where}: {e.reason or e}") from None
    except OSError as e:
        raise Unreachable(f"cannot reach {where}: {e.strerror or e} (is redis-server running "
                          "there? start it, or correct --cluster)") from None


def _check(conn, reader, command: list[str], where: str, refused: str) -> None:
    """
    Send one command and read its one-line reply; an error reply is
    C{where} followed by C{refused} and Redis's reason.
    """
    data = b"*%d\r\n" % len(command) + b"".join(
        b"$%d\r\n%s\r\n" % (len(word.encode()), word.encode()) for word in command)
    conn.sendall(data)
    line = reader.readline()
    if not line:
        raise Unreachable(f"{where} closed the connection")
    if line.startswith(b"-"):
        reason = line[1:].strip().decode("utf-8", "replace")
        if reason.startswith("NOAUTH"):
            raise Unreachable(f"{where} wants a password: give it as "
                              "redis://:PASSWORD@HOST:PORT/DB")
        raise Unreachable(f"{where} {refused}: {reason}")
