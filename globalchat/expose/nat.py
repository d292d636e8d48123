# -*- test-case-name: tests.test_expose_nat -*-
"""
Is the address the gateway calls "external" really on the internet?

A port mapping on the home router only helps when the router's own
external address is public.  Behind a carrier-grade NAT (RFC 6598 shared
space) or a second router (RFC 1918 space), or when a STUN server sees
another address than the router reports, the mapping opens a door into
yet another private network; the user must then be told plainly, with
what can work instead.
"""

from __future__ import annotations

import ipaddress

#: What can make a server reachable when the home router cannot.
ALTERNATIVES = (
    "use IPv6 if your provider offers it (listen with --port tcp6:PORT:interface=\\:\\:), "
    "ask your provider for a public IPv4 address, run the server on a small rented "
    "server (VPS), or publish it as a Tor onion service (--port onion:PORT)"
)

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


def diagnose(gatewayAddress: str | None, stunAddress: str | None = None) -> str | None:
    """
    Explain why a mapping on this gateway cannot make the server reachable
    from the internet, or return C{None} when nothing says so.

    @param gatewayAddress: the external address the gateway reported.
    @param stunAddress: the address a STUN server saw us come from.
    """
    if gatewayAddress is not None:
        kind = classify(gatewayAddress)
        if kind == SHARED:
            return (
                f"your router's external address {gatewayAddress} is in the "
                "carrier-grade NAT range 100.64.0.0/10: your provider shares one "
                "public address among many customers, so a port mapping on your "
                f"router cannot be reached from the internet; instead {ALTERNATIVES}"
            )
        if kind == PRIVATE:
            return (
                f"your router's external address {gatewayAddress} is private: "
                "there is another router (or your provider's NAT) between it and "
                "the internet, so a mapping on this one is not enough; map the "
                f"port on the outer router too, or {ALTERNATIVES}"
            )
    if stunAddress is not None and gatewayAddress is not None and stunAddress != gatewayAddress:
        return (
            f"your router says its external address is {gatewayAddress} but the "
            f"internet sees you as {stunAddress}: there is a second NAT outside your "
            f"router (double or carrier-grade NAT); {ALTERNATIVES}"
        )
    return None
