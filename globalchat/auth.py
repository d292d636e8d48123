# -*- test-case-name: tests.test_auth -*-
"""
Server passwords: a salted scrypt hash in a file, never the password.

C{globalchat-passwd FILE} writes the file; C{twistd globalchat
--password-file FILE} then asks every client for the password after its
name.  scrypt is deliberately slow (tens of milliseconds), so the server
checks run in Twisted's thread pool (L{globalchat.identity.checkers});
the comparison is constant-time.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import sys
from pathlib import Path


from globalchat.commandline import ArgumentParser, whyUnusable

#: scrypt cost: 2**14 iterations of 8 x 128 bytes (16 MiB, ~50 ms).
N, R, P = 2**14, 8, 1
PREFIX = "scrypt"


def hashPassword(password: str, salt: bytes | None = None) -> str:
    """
    The line stored in a password file for C{password}.
    """
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    encode = lambda b: base64.b64encode(b).decode("ascii")
    return f"{PREFIX}${N}${R}${P}${encode(salt)}${encode(digest)}"


def parseHash(line: str) -> tuple[int, int, int, bytes, bytes]:
    """
    Read a stored hash.

    @raise ValueError: naming what is wrong, for a line this module did not
        write.
    """
    parts = line.strip().split("$")
    try:
        if len(parts) != 6 or parts[0] != PREFIX:
            raise ValueError
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError:
        raise ValueError("not a password hash written by globalchat-passwd") from None
    return n, r, p, salt, digest


def verifyPassword(stored: str, password: str) -> bool:
    """
    Whether C{password} matches the C{stored} hash (constant-time).
    """
    n, r, p, salt, digest = parseHash(stored)
    candidate = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                               dklen=len(digest), maxmem=2**26)
    return hmac.compare_digest(candidate, digest)


def loadPasswordFile(path: Path) -> str:
    """
    The stored hash in C{path}.

    @raise ValueError: with one line for the user.
    """
    try:
        line = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path}: {whyUnusable(e, 'UTF-8 text')}") from None
    try:
        parseHash(line)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    return line


def askNewPassword(prompt: str) -> str:
    """
    Ask for a new password on the terminal, twice and without echo: a
    typing mistake nobody saw would otherwise lock its owner out.

    @raise ValueError: if the two differ.
    """
    password = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != password:
        raise ValueError("the passwords differ")
    return password


def main(argv: list[str] | None = None) -> None:
    """
    C{globalchat-passwd FILE}: ask for a password (twice, without echo on
    a terminal; one line on standard input otherwise) and write its hash
    to FILE, readable only by its owner.
    """
    parser = ArgumentParser(
        prog="globalchat-passwd",
        description="Ask for the server's password (twice, without echo, on a terminal; "
                    "one line on standard input otherwise) and write its salted scrypt "
                    "hash to FILE, readable only by you, for twistd globalchat "
                    "--password-file FILE. The password itself is stored nowhere.",
    )
    parser.add_argument("file", metavar="FILE", help="the file to write the hash to")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if sys.stdin.isatty():
        try:
            password = askNewPassword("New server password: ")
        except ValueError as e:
            sys.stderr.write(f"globalchat-passwd: {e}; nothing written\n")
            raise SystemExit(1)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        sys.stderr.write("globalchat-passwd: an empty password is not a password; nothing written\n")
        raise SystemExit(1)
    path = Path(options.file)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(hashPassword(password) + "\n")
    except OSError as e:
        sys.stderr.write(f"globalchat-passwd: cannot write {path}: {e.strerror}\n")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
