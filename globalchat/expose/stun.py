# -*- test-case-name: tests.test_expose_stun -*-
"""
STUN (RFC 8489) Binding requests: which address and port does the
internet see us coming from?

The router's own idea of its external address can be wrong (a second NAT
outside it); a STUN server on the internet reports what it actually sees.
Only the Binding request is needed, so this is a few pure functions and
one L{globalchat.expose.udp.request}.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from typing import Sequence

from twisted.internet.defer import Deferred, ensureDeferred

from globalchat.expose.mapping import MappingError
from globalchat.expose.udp import DEFAULT_DELAYS, request

STUN_PORT = 3478
MAGIC_COOKIE = 0x2112A442

BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111

MAPPED_ADDRESS = 0x0001
XOR_MAPPED_ADDRESS = 0x0020
ERROR_CODE = 0x0009

_HEADER = struct.Struct("!HHI12s")


def encodeBindingRequest(transaction: bytes) -> bytes:
    """
    A Binding request with no attributes.
    """
    return _HEADER.pack(BINDING_REQUEST, 0, MAGIC_COOKIE, transaction)


def _address(value: bytes, transaction: bytes, xored: bool) -> tuple[str, int]:
    if len(value) < 4:
        raise MappingError("STUN: malformed address attribute")
    family, port = value[1], struct.unpack("!H", value[2:4])[0]
    raw = value[4:]
    size = {1: 4, 2: 16}.get(family)
    if size is None or len(raw) != size:
        raise MappingError("STUN: malformed address attribute")
    if xored:
        port ^= MAGIC_COOKIE >> 16
        key = struct.pack("!I", MAGIC_COOKIE) + transaction
        raw = bytes(a ^ b for a, b in zip(raw, key))
    return str(ipaddress.ip_address(raw)), port


def decodeBindingResponse(data: bytes, transaction: bytes) -> tuple[str, int] | None:
    """
    Read a Binding response.

    @return: the address and port the server saw, or C{None} for a
        datagram that is not the answer to C{transaction}.
    @raise MappingError: for an error response or a malformed answer.
    """
    if len(data) < _HEADER.size:
        return None
    kind, length, cookie, tid = _HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE or tid != transaction:
        return None
    if kind not in (BINDING_SUCCESS, BINDING_ERROR):
        return None
    body = data[_HEADER.size:]
    if length != len(body) or length % 4:
        raise MappingError("STUN: malformed reply (bad length)")
    attributes: dict[int, bytes] = {}
    offset = 0
    while offset < len(body):
        if offset + 4 > len(body):
            raise MappingError("STUN: malformed reply (truncated attribute)")
        attribute, size = struct.unpack_from("!HH", body, offset)
        value = body[offset + 4:offset + 4 + size]
        if len(value) != size:
            raise MappingError("STUN: malformed reply (truncated attribute)")
        attributes.setdefault(attribute, value)
        offset += 4 + (size + 3) // 4 * 4
    if kind == BINDING_ERROR:
        error = attributes.get(ERROR_CODE, b"")
        code = (error[2] & 7) * 100 + error[3] if len(error) >= 4 else 0
        reason = error[4:].decode("utf-8", "replace") if len(error) > 4 else "error"
        raise MappingError(f"STUN: the server answered {code} {reason}")
    if XOR_MAPPED_ADDRESS in attributes:
        return _address(attributes[XOR_MAPPED_ADDRESS], transaction, xored=True)
    if MAPPED_ADDRESS in attributes:
        return _address(attributes[MAPPED_ADDRESS], transaction, xored=False)
    raise MappingError("STUN: the reply has no mapped address")


def parseHostPort(text: str, defaultPort: int = STUN_PORT) -> tuple[str, int]:
    """
    Read C{HOST}, C{HOST:PORT} or C{[IPv6]:PORT}.

    @raise ValueError: with a message naming the value.
    """
    host, port = text.strip(), str(defaultPort)
    if host.startswith("["):
        inner, sep, rest = host[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ValueError(f"expected HOST:PORT or [IPv6]:PORT, not {text!r}")
        host, port = inner, rest[1:] or port
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT or [IPv6]:PORT, not {text!r}")
    return host, int(port)


def stunAddress(reactor, host: str, port: int = STUN_PORT,
                delays: Sequence[float] = DEFAULT_DELAYS) -> Deferred[tuple[str, int]]:
    """
    Ask the STUN server at C{host:port} (a name is resolved first) which
    address and port it sees us at.
    """

    async def ask() -> tuple[str, int]:
        try:
            ipaddress.ip_address(host)
            address = host
        except ValueError:
            try:
                address = await reactor.resolve(host)
            except Exception:
                raise MappingError(f"STUN: cannot resolve {host}") from None
        transaction = os.urandom(12)
        return await request(
            reactor, address, port, lambda local: encodeBindingRequest(transaction),
            lambda data: decodeBindingResponse(data, transaction), "STUN", delays,
        )

    return ensureDeferred(ask())


async def firstStunAddress(reactor, servers: Sequence[tuple[str, int]]) -> tuple[str, int] | None:
    """
    The answer of the first of C{servers} that gives one, or C{None}.
    """
    for host, port in servers:
        try:
            return await stunAddress(reactor, host, port)
        except MappingError:
            continue
    return None
