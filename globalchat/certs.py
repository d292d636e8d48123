# -*- test-case-name: tests.test_certs -*-
"""
Run a small private certificate authority, so that a server can require
its users to hold a certificate (C{--client-ca}).

    globalchat-cert ca DIR                  DIR/ca.crt and DIR/ca.key
    globalchat-cert server DIR HOST...      DIR/server.crt and DIR/server.key
    globalchat-cert client DIR NAME         DIR/NAME.crt and DIR/NAME.key

Keys are written readable by their owner only and never over an existing
file.  Give C{ca.crt} to the server (C{--client-ca}) and to clients
(C{--ca}); give each user their own C{NAME.crt} and C{NAME.key}; the name
in it is the name they chat under.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from globalchat import tls
from globalchat.chat.errors import ChatError
from globalchat.chat.names import checkName
from globalchat.commandline import ArgumentParser


def _authority(directory: Path):
    try:
        cert = x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes())
        key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    except (OSError, ValueError) as e:
        raise SystemExit(f"globalchat-cert: no usable CA in {directory} ({e}); "
                         "make one with: globalchat-cert ca DIR")
    return cert, key


def _issue(directory: Path, stem: str, *args, **kw) -> None:
    certificate, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    for path in (certificate, key):
        if path.exists():
            raise SystemExit(f"globalchat-cert: {path} exists; move it away first")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tls.issueCertificate(certificate, key, *args, **kw)
    fingerprint = tls.fingerprint(certificate.read_bytes())
    print(f"wrote {certificate} and {key} ({fingerprint})")


def main(argv: list[str] | None = None) -> None:
    """
    Entry point of C{globalchat-cert}.
    """
    parser = ArgumentParser(
        prog="globalchat-cert",
        description="Run a small private certificate authority, so that a server can "
                    "require its users to hold a certificate (twistd globalchat "
                    "--client-ca).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ca = commands.add_parser("ca", help="create a certificate authority")
    ca.add_argument("dir")
    server = commands.add_parser("server", help="issue a server certificate")
    server.add_argument("dir")
    server.add_argument("hosts", nargs="+", metavar="HOST", help="DNS names or IP addresses")
    client = commands.add_parser("client", help="issue a client certificate for a user")
    client.add_argument("dir")
    client.add_argument("name", help="the user's chat name")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    directory = Path(options.dir)
    if options.command == "ca":
        _issue(directory, "ca", "globalchat CA", authority=True)
    elif options.command == "server":
        _issue(directory, "server", options.hosts[0], options.hosts, issuer=_authority(directory))
    else:
        try:
            checkName(options.name)
        except ChatError as e:
            raise SystemExit(f"globalchat-cert: {e}")
        _issue(directory, options.name, options.name, issuer=_authority(directory), client=True)


if __name__ == "__main__":
    main()
