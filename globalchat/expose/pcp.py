# -*- test-case-name: tests.test_expose_pcp -*-
"""
PCP (RFC 6887), the MAP opcode only: opening a TCP port on a modern home
router, a carrier-grade NAT, or an IPv6 firewall.

PCP replaced NAT-PMP on the same UDP port and is the one protocol that can
also open an IPv6 pinhole, so it is tried first.  As with NAT-PMP the wire
format is a set of pure functions so that any reply a LAN can produce is
tested without sockets; L{PcpMapper} pairs them with
L{globalchat.expose.udp.request} and adds the one piece of state PCP asks
for, a stable nonce per mapping.
"""

from __future__ import annotations

import ipaddress
import os
import struct
from functools import partial
from typing import Sequence

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorUDP
from twisted.python.failure import Failure
from zope.interface import implementer

from globalchat.expose.mapping import IPortMapper, Mapping, MappingError
from globalchat.expose.udp import DEFAULT_DELAYS, request

#: The port PCP servers listen on (shared with NAT-PMP).
PCP_PORT = 5351

VERSION = 2
OP_MAP = 1
_RESPONSE = 0x80
PROTOCOL_TCP = 6

#: RFC 6887 section 7: no PCP message is longer.
MAX_MESSAGE = 1100

UNSUPP_VERSION = 1
CANNOT_PROVIDE_EXTERNAL = 11

#: Result codes of RFC 6887 section 7.4 by the names its readers know.
RESULT_NAMES = {
    UNSUPP_VERSION: "UNSUPP_VERSION",
    2: "NOT_AUTHORIZED",
    3: "MALFORMED_REQUEST",
    4: "UNSUPP_OPCODE",
    5: "UNSUPP_OPTION",
    6: "MALFORMED_OPTION",
    7: "NETWORK_FAILURE",
    8: "NO_RESOURCES",
    9: "UNSUPP_PROTOCOL",
    10: "USER_EX_QUOTA",
    CANNOT_PROVIDE_EXTERNAL: "CANNOT_PROVIDE_EXTERNAL",
    12: "ADDRESS_MISMATCH",
    13: "EXCESSIVE_REMOTE_PEERS",
}

#: RFC 6887 section 11.6 learns the external address with a short mapping
#: of the Discard port, where nothing listens.
DISCARD_PORT = 9
PROBE_LIFETIME = 60

NONCE_SIZE = 12

# version, opcode, reserved, lifetime, client address
_REQUEST_HEADER = struct.Struct("!BBHI16s")
# version, opcode, reserved, result code, lifetime, epoch, reserved
_RESPONSE_HEADER = struct.Struct("!BBBBII12x")
# nonce, protocol, reserved, internal port, external port, external address
_MAP = struct.Struct("!12sB3xHH16s")

_ONLY_NATPMP = "PCP: the gateway speaks only NAT-PMP (UNSUPP_VERSION)"


class PcpResultError(MappingError):
    """
    The gateway answered with a result code other than SUCCESS.

    @ivar resultCode: that code, so a caller can react to one in particular.
    """

    def __init__(self, resultCode: int) -> None:
        self.resultCode = resultCode
        name = RESULT_NAMES.get(resultCode, f"result {resultCode}")
        super().__init__(f"PCP: the gateway refused ({name})")


def _packAddress(address: str) -> bytes:
    """
    PCP carries every address in 16 bytes, IPv4 as IPv4-mapped IPv6.
    """
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        parsed = ipaddress.IPv6Address(b"\0" * 10 + b"\xff\xff" + parsed.packed)
    return parsed.packed


def encodeMapRequest(
    clientAddress: str,
    nonce: bytes,
    internalPort: int,
    externalPort: int,
    lifetime: int,
) -> bytes:
    """
    A MAP request forwarding TCP to C{clientAddress:internalPort}.

    @param clientAddress: this host's address facing the gateway; a gateway
        that sees another source address knows a NAT sits in between.
    @param nonce: 12 bytes that must be the same for every request about
        this mapping, or the gateway treats renewals as someone else's.
    @param externalPort: the port we would like; C{0} lets the gateway pick.
    @param lifetime: seconds; C{0} deletes the mapping.
    """
    anyAddress = "0.0.0.0" if ipaddress.ip_address(clientAddress).version == 4 else "::"
    return _REQUEST_HEADER.pack(
        VERSION, OP_MAP, 0, lifetime, _packAddress(clientAddress)
    ) + _MAP.pack(
        nonce, PROTOCOL_TCP, internalPort, externalPort, _packAddress(anyAddress)
    )


def _unpackAddress(packed: bytes) -> str | None:
    address = ipaddress.IPv6Address(packed)
    if address.ipv4_mapped is not None:
        return None if address.ipv4_mapped.is_unspecified else str(address.ipv4_mapped)
    return None if address.is_unspecified else str(address)


def decodeMapResponse(data: bytes, nonce: bytes, internalPort: int) -> Mapping | None:
    """
    Read the answer to our MAP request for C{internalPort}.

    A gateway that assigned another external port than the one suggested
    has still succeeded: the mapping says which port it gave.

    @return: the mapping, or C{None} for a datagram that answers another
        request (other opcode, nonce, protocol or port).
    @raise PcpResultError: the gateway refused.
    @raise MappingError: the gateway speaks only NAT-PMP, or the answer is
        garbled.
    """
    if len(data) < 2 or not (data[1] & _RESPONSE):
        return None
    if data[0] == 0:
        raise MappingError(_ONLY_NATPMP)
    if data[1] != _RESPONSE | OP_MAP:
        return None
    if data[0] != VERSION:
        raise MappingError(f"PCP: the gateway speaks only protocol version {data[0]}")
    if len(data) < _RESPONSE_HEADER.size or len(data) % 4 or len(data) > MAX_MESSAGE:
        raise MappingError(f"PCP: malformed reply from the gateway ({len(data)} bytes)")
    _, _, _, result, lifetime, epoch = _RESPONSE_HEADER.unpack_from(data)
    end = _RESPONSE_HEADER.size + _MAP.size
    body = _MAP.unpack(data[_RESPONSE_HEADER.size : end]) if len(data) >= end else None
    if body is not None and body[:3] != (nonce, PROTOCOL_TCP, internalPort):
        return None
    if result == UNSUPP_VERSION:
        raise MappingError(_ONLY_NATPMP)
    if result:
        raise PcpResultError(result)
    if body is None:
        raise MappingError(f"PCP: malformed reply from the gateway ({len(data)} bytes)")
    _, _, _, externalPort, externalAddress = body
    return Mapping(
        "pcp", internalPort, externalPort, _unpackAddress(externalAddress), lifetime, epoch
    )


@implementer(IPortMapper)
class PcpMapper:
    """
    Forward TCP ports, or open IPv6 pinholes, through a PCP server.

    @ivar method: C{"pcp"}, for logs.
    """

    method = "pcp"

    def __init__(
        self,
        reactor: IReactorUDP,
        gateway: str,
        port: int = PCP_PORT,
        delays: Sequence[float] = DEFAULT_DELAYS,
    ) -> None:
        """
        @param reactor: an L{IReactorUDP} that is also L{IReactorTime}.
        @param gateway: the PCP server's address, IPv4 or IPv6; its family
            decides the family of the mappings.
        @param delays: the retransmission schedule of each request.
        """
        self._reactor = reactor
        self._gateway = gateway
        self._port = port
        self._delays = delays
        self._nonces: dict[int, bytes] = {}

    def _nonce(self, internalPort: int) -> bytes:
        """
        The nonce of the mapping to C{internalPort}, the same for its whole
        life (RFC 6887 section 11) so renewals and deletion are accepted.
        """
        if internalPort not in self._nonces:
            self._nonces[internalPort] = os.urandom(NONCE_SIZE)
        return self._nonces[internalPort]

    def _map(
        self, internalPort: int, externalPort: int, lifetime: int
    ) -> Deferred[Mapping]:
        nonce = self._nonce(internalPort)
        return request(
            self._reactor,
            self._gateway,
            self._port,
            partial(
                encodeMapRequest,
                nonce=nonce,
                internalPort=internalPort,
                externalPort=externalPort,
                lifetime=lifetime,
            ),
            partial(decodeMapResponse, nonce=nonce, internalPort=internalPort),
            "PCP",
            self._delays,
        )

    def externalAddress(self) -> Deferred[str]:
        """
        Learn the external address from a short mapping of the Discard port,
        as RFC 6887 section 11.6 suggests: PCP has no request for it alone.
        """

        def addressOf(mapping: Mapping) -> str:
            if mapping.externalAddress is None:
                raise MappingError("PCP: the gateway did not say its external address")
            return mapping.externalAddress

        return self._map(DISCARD_PORT, 0, PROBE_LIFETIME).addCallback(addressOf)

    def addMapping(
        self, internalPort: int, externalPort: int, lifetime: int
    ) -> Deferred[Mapping]:
        """
        Ask for, or renew, a TCP mapping to C{internalPort}.

        A gateway that cannot give C{externalPort} (CANNOT_PROVIDE_EXTERNAL)
        is asked once more for any port.

        @return: the mapping with the port the gateway actually gave; fails
            with L{MappingError} when it refused.
        """

        def anyPort(failure: Failure) -> Deferred[Mapping] | Failure:
            if (
                failure.check(PcpResultError)
                and failure.value.resultCode == CANNOT_PROVIDE_EXTERNAL
                and externalPort != 0
            ):
                return self._map(internalPort, 0, lifetime)
            return failure

        return self._map(internalPort, externalPort, lifetime).addErrback(anyPort)

    def deleteMapping(self, mapping: Mapping) -> Deferred[None]:
        """
        Remove C{mapping}: a MAP with lifetime zero and the mapping's nonce.
        """
        d = self._map(mapping.internalPort, mapping.externalPort, 0)
        d.addCallback(lambda _: None)
        return d
