# -*- test-case-name: tests.test_expose_gateway -*-
"""
Where the gateway is and which of this host's addresses face it.

Port mapping protocols talk to the default route's next hop, and PCP and
UPnP need to name the local address the gateway should forward to.  Both
come from the kernel: the routing tables under C{/proc/net} on Linux, and
a connected UDP socket, which picks the source address without sending a
packet.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path


def parseIPv4Routes(text: str) -> str | None:
    """
    Find the default route's gateway in the text of C{/proc/net/route}.

    @return: the gateway as a dotted quad, or C{None} when there is no
        default route through a gateway.
    """
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 8:
            continue
        destination, gateway, flags, mask = fields[1], fields[2], fields[3], fields[7]
        try:
            isGateway = int(flags, 16) & 0x2
            if int(destination, 16) == 0 and int(mask, 16) == 0 and isGateway:
                # The kernel prints the address in host byte order.
                return str(ipaddress.IPv4Address(int(gateway, 16).to_bytes(4, "little")))
        except ValueError:
            continue
    return None


def parseIPv6Routes(text: str) -> str | None:
    """
    Find the default route's next hop in the text of C{/proc/net/ipv6_route}.

    A link-local next hop (the usual case) is only meaningful with its
    interface, so it comes back scoped: C{fe80::1%eth0}.
    """
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or fields[0] != "0" * 32 or fields[1] != "00":
            continue
        try:
            nextHop = ipaddress.IPv6Address(bytes.fromhex(fields[4]))
        except ValueError:
            continue
        if not nextHop.is_unspecified:
            return f"{nextHop}%{fields[9]}" if nextHop.is_link_local else str(nextHop)
    return None


def parseGlobalIPv6(text: str) -> list[str]:
    """
    List the global unicast IPv6 addresses in the text of
    C{/proc/net/if_inet6}: the ones a friend abroad could connect to if no
    firewall is in the way.
    """
    found = []
    for line in text.splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            address = ipaddress.IPv6Address(bytes.fromhex(fields[0]))
        except ValueError:
            continue
        if address.is_global:
            found.append(str(address))
    return found


def readKernelTable(path: str) -> str:
    """
    The text of a C{/proc} table, or C{""} where there is none (not Linux,
    or not readable), which every parser here reads as "nothing found".
    """
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def defaultGateway(family: int = socket.AF_INET) -> str | None:
    """
    The default route's next hop for C{family}, or C{None} when the host
    has none or the routing table cannot be read (not Linux).
    """
    if family == socket.AF_INET6:
        return parseIPv6Routes(readKernelTable("/proc/net/ipv6_route"))
    return parseIPv4Routes(readKernelTable("/proc/net/route"))


def globalIPv6Addresses() -> list[str]:
    """
    This host's global IPv6 addresses.
    """
    return parseGlobalIPv6(readKernelTable("/proc/net/if_inet6"))


def localAddressFor(host: str) -> str:
    """
    The local address the kernel would use to reach C{host}.

    Connecting a UDP socket sends nothing; it only chooses the route.

    @raise OSError: when there is no route to C{host}.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))
        return s.getsockname()[0]
