# -*- test-case-name: tests.test_client_knownhosts -*-
"""
Trust on first use, as SSH does it: the first time a server's self-made
certificate is seen the user decides, and from then on the same host and
port must show the same certificate.

The file is C{$XDG_CONFIG_HOME/globalchat/known_hosts} (by default
C{~/.config/globalchat/known_hosts}), one line per server:
C{HOST:PORT SHA256:AB:...} (IPv6 hosts in brackets).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from globalchat import tls


def defaultPath() -> Path:
    """
    Where known hosts are kept, honouring C{XDG_CONFIG_HOME}.
    """
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "globalchat" / "known_hosts"


def _key(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host.lower()}:{port}"


@dataclass(frozen=True)
class KnownHost:
    """
    A recorded certificate, and where it is written.
    """

    digest: bytes
    path: Path
    line: int


class KnownHosts:
    """
    The known-hosts file.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else defaultPath()

    def lookup(self, host: str, port: int) -> KnownHost | None:
        """
        The certificate recorded for C{host:port}; lines that cannot be
        read are skipped.
        """
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return None
        wanted = _key(host, port)
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if len(fields) == 2 and fields[0] == wanted:
                try:
                    return KnownHost(tls.parseFingerprint(fields[1]), self.path, number)
                except ValueError:
                    continue
        return None

    def add(self, host: str, port: int, digest: bytes) -> None:
        """
        Record C{digest} for C{host:port}.

        @raise OSError: when the file cannot be written.
        """
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{_key(host, port)} {tls.formatFingerprint(digest)}\n")
