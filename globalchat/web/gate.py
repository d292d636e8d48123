# -*- test-case-name: tests.test_web_gate -*-
"""
Who a WebSocket handshake comes from, and from which page: the client's
address behind a trusted reverse proxy (C{--trust-proxy}), and whether
its C{Origin} is one of the server's own (or C{--web-origin}).

A browser sends C{Origin} with every WebSocket handshake, and lets any
page open a WebSocket to any server: without this check, a page on any
site a user visits could chat in their name from their address.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from globalchat.policy import Network, hostAddress


def parseOrigin(text: str) -> str:
    """
    An origin as C{--web-origin} takes it, C{https://chat.example.org} or
    C{http://192.0.2.7:8080}, in the form browsers send.

    @raise ValueError: for anything else (a path, no scheme, ...).
    """
    try:
        parts = urlsplit(text.strip())
        parts.port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path not in ("", "/") or parts.query or parts.fragment
            or parts.username is not None):
        raise ValueError(f"{text!r} is not an origin: give a scheme and a host, and a port "
                         "if not the default, e.g. https://chat.example.org")
    return f"{parts.scheme}://{parts.netloc}".lower()


class Gate:
    """
    The web ports' knowledge of proxies and origins.

    @ivar proxies: the networks whose C{X-Forwarded-For} and
        C{X-Forwarded-Proto} are believed.
    @ivar origins: the origins allowed besides the server's own.
    """

    def __init__(self, proxies: list[Network] = (), origins: list[str] = ()) -> None:
        self.proxies = list(proxies)
        self.origins = frozenset(origins)

    def trusted(self, host: str) -> bool:
        """
        Whether C{host} is a reverse proxy of ours.
        """
        address = hostAddress(host)
        return address is not None and any(
            address in network for network in self.proxies if network.version == address.version)

    def client(self, peer: str, forwardedFor: list[str]) -> str:
        """
        The client's address: C{peer}, or, when C{peer} is a trusted proxy,
        the nearest address in C{X-Forwarded-For} (read from the right,
        since a client can write anything on the left) that is not one.
        """
        host = peer
        hops = [hop.strip() for header in forwardedFor for hop in header.split(",")]
        while self.trusted(host) and hops:
            hop = hops.pop()
            if hostAddress(hop) is None:
                break
            host = hop
        return host

    def allows(self, origin: str | None, host: str, secure: bool) -> bool:
        """
        Whether a handshake with C{Origin: origin} may open a chat: one
        from a page of this server (same scheme and C{Host}), from an
        origin given with C{--web-origin}, or with no origin (not a
        browser, which cannot be tricked into connecting by a page).
        """
        if origin is None:
            return True
        origin = origin.lower()
        return origin == f"{'https' if secure else 'http'}://{host.lower()}" or origin in self.origins
