# -*- test-case-name: tests.test_expose_natpmp -*-
"""
NAT-PMP (RFC 6886): the port-mapping protocol of older Apple AirPort and
many open-source routers that predate PCP.

It is the cheapest way to open a port on such a gateway: one 12-byte
datagram, one 16-byte answer.  The wire format lives in pure functions so
that every odd reply a LAN can produce is tested without sockets; the
mapper only pairs them with L{globalchat.expose.udp.request}.
"""

from __future__ import annotations

import ipaddress
import struct
from functools import partial
from typing import Callable, Sequence, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorUDP
from zope.interface import implementer

from globalchat.expose.mapping import IPortMapper, Mapping, MappingError
from globalchat.expose.udp import DEFAULT_DELAYS, request

T = TypeVar("T")

#: The port NAT-PMP (and PCP) gateways listen on.
NATPMP_PORT = 5351

#: Opcodes of the requests we send; an answer's opcode is this plus 128.
OP_EXTERNAL_ADDRESS = 0
OP_MAP_TCP = 2
_ANSWER = 128

#: Result codes of RFC 6886 section 3.5, in words a user can act on.
RESULT_MEANINGS = {
    1: "unsupported version",
    2: "not authorized/refused",
    3: "network failure",
    4: "out of resources",
    5: "unsupported opcode",
}

_HEADER = struct.Struct("!BBHI")  # version, opcode, result code, epoch
_MAP_REQUEST = struct.Struct("!BBHHHI")
_MAP_BODY = struct.Struct("!HHI")  # internal port, external port, lifetime


def encodeExternalAddressRequest() -> bytes:
    """
    The request for the gateway's public IPv4 address.
    """
    return bytes([0, OP_EXTERNAL_ADDRESS])


def encodeMapRequest(internalPort: int, externalPort: int, lifetime: int) -> bytes:
    """
    A request to forward TCP C{externalPort} to C{internalPort}.

    @param externalPort: the port we would like; C{0} lets the gateway pick,
        and is what a deletion must carry.
    @param lifetime: seconds; C{0} deletes the mapping.
    """
    return _MAP_REQUEST.pack(0, OP_MAP_TCP, 0, internalPort, externalPort, lifetime)


def _decodeHeader(data: bytes, opcode: int, size: int) -> tuple[int, bytes] | None:
    """
    Check the part every NAT-PMP answer shares.

    @param size: the length of a successful answer to C{opcode}.
    @return: C{None} for a datagram that is not an answer to C{opcode}, or
        the epoch and the bytes after the header.
    @raise MappingError: the datagram claims to answer C{opcode} but is
        a refusal or is garbled.
    """
    if len(data) < 2 or not (data[1] & _ANSWER):
        return None
    if data[0] != 0:
        raise MappingError(
            f"NAT-PMP: the gateway speaks another protocol version ({data[0]})"
        )
    if data[1] != _ANSWER + opcode:
        return None
    if len(data) < _HEADER.size:
        raise MappingError(f"NAT-PMP: malformed reply from the gateway ({len(data)} bytes)")
    _, _, result, epoch = _HEADER.unpack_from(data)
    if result:
        meaning = RESULT_MEANINGS.get(result, "unknown error")
        raise MappingError(f"NAT-PMP: the gateway refused ({meaning}, result {result})")
    if len(data) != size:
        raise MappingError(f"NAT-PMP: malformed reply from the gateway ({len(data)} bytes)")
    return epoch, data[_HEADER.size :]


def decodeExternalAddressResponse(data: bytes) -> str | None:
    """
    Read the gateway's public address out of its answer.

    @return: the address, or C{None} for a datagram that is not the answer.
    @raise MappingError: a refusal, a garbled answer, or a gateway that has
        no public address yet.
    """
    decoded = _decodeHeader(data, OP_EXTERNAL_ADDRESS, _HEADER.size + 4)
    if decoded is None:
        return None
    address = ipaddress.IPv4Address(decoded[1])
    if address.is_unspecified:
        raise MappingError("NAT-PMP: the gateway has no external address yet")
    return str(address)


def decodeMapResponse(data: bytes, internalPort: int) -> Mapping | None:
    """
    Read the mapping the gateway granted for C{internalPort}.

    The external port may differ from the one asked for: the gateway had a
    conflict and chose another, which is still a success.

    @return: the mapping (without an external address: NAT-PMP does not say
        it here), or C{None} for a datagram that answers something else.
    @raise MappingError: a refusal or a garbled answer.
    """
    decoded = _decodeHeader(data, OP_MAP_TCP, _HEADER.size + _MAP_BODY.size)
    if decoded is None:
        return None
    epoch, body = decoded
    gotInternal, externalPort, lifetime = _MAP_BODY.unpack(body)
    if gotInternal != internalPort:
        return None
    return Mapping("nat-pmp", internalPort, externalPort, None, lifetime, epoch)


@implementer(IPortMapper)
class NatPmpMapper:
    """
    Forward TCP ports through a NAT-PMP gateway.

    @ivar method: C{"nat-pmp"}, for logs.
    """

    method = "nat-pmp"

    def __init__(
        self,
        reactor: IReactorUDP,
        gateway: str,
        port: int = NATPMP_PORT,
        delays: Sequence[float] = DEFAULT_DELAYS,
    ) -> None:
        """
        @param reactor: an L{IReactorUDP} that is also L{IReactorTime}.
        @param gateway: the gateway's IPv4 address (NAT-PMP has no IPv6).
        @param delays: the retransmission schedule of each request.
        """
        self._reactor = reactor
        self._gateway = gateway
        self._port = port
        self._delays = delays

    def _ask(self, payload: bytes, accept: Callable[[bytes], T | None]) -> Deferred[T]:
        return request(
            self._reactor, self._gateway, self._port,
            lambda localAddress: payload, accept, "NAT-PMP", self._delays,
        )

    def externalAddress(self) -> Deferred[str]:
        """
        Ask the gateway for its public IPv4 address.
        """
        return self._ask(encodeExternalAddressRequest(), decodeExternalAddressResponse)

    def addMapping(
        self, internalPort: int, externalPort: int, lifetime: int
    ) -> Deferred[Mapping]:
        """
        Ask for, or renew, a TCP mapping to C{internalPort}.

        @return: the mapping with the port the gateway actually gave; fails
            with L{MappingError} when it refused.
        """
        return self._ask(
            encodeMapRequest(internalPort, externalPort, lifetime),
            partial(decodeMapResponse, internalPort=internalPort),
        )

    def deleteMapping(self, mapping: Mapping) -> Deferred[None]:
        """
        Remove C{mapping}: RFC 6886 deletes with lifetime and external
        port both zero.
        """
        d = self._ask(
            encodeMapRequest(mapping.internalPort, 0, 0),
            partial(decodeMapResponse, internalPort=mapping.internalPort),
        )
        d.addCallback(lambda _: None)
        return d
