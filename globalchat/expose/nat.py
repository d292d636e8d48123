# -*- test-case-name: tests.test_expose_nat -*-
"""
Is an address really on the internet, and what works when it is not?

A port mapping on the home router only helps when the router's own
external address is public.  Behind a carrier-grade NAT (RFC 6598 shared
space) or a second router (RFC 1918 space) the mapping opens a door into
yet another private network; the user must then be told plainly, with
what can work instead.
"""

from __future__ import annotations

import ipaddress
from typing import Sequence

PUBLIC = "public"
PRIVATE = "private"
SHARED = "shared"
OTHER = "other"

_SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


def classify(address: str) -> str:
    """
    Sort an address into L{PUBLIC}, L{SHARED} (carrier-grade NAT space),
    L{PRIVATE} (RFC 1918 and unique-local) or L{OTHER} (loopback,
    link-local, documentation and other reserved space, or not an address).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return OTHER
    if ip.version == 4 and ip in _SHARED_NETWORK:
        return SHARED
    if ip.is_global:
        return PUBLIC
    if any(ip.version == n.version and ip in n for n in _PRIVATE_NETWORKS):
        return PRIVATE
    return OTHER


def alternatives(ipv6: Sequence[str] = ()) -> str:
    """
    What can make a server reachable when the home router cannot.

    @param ipv6: this machine's global IPv6 addresses: with one, IPv6 is
        the nearest way out, and the advice names it.
    """
    if ipv6:
        first = f"this machine has the global IPv6 address {ipv6[0]}: listen on it too " \
                "(--port tcp6:PORT:interface=\\:\\:) and friends with IPv6 can connect; for IPv4, "
    else:
        first = "use IPv6 if your provider offers it (globalchat-doctor shows whether this " \
                "machine has a global IPv6 address), "
    return (
        first + "ask your provider for a public IPv4 address, publish the server as a Tor "
        "onion service (--port onion:PORT), or run it on a machine that has a public "
        "address (a small rented server)"
    )
