"""
Tests for L{globalchat.expose.natpmp}: the NAT-PMP codec and mapper.
"""

from __future__ import annotations

import struct
from typing import Callable

from hypothesis import given, strategies as st
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat.expose.mapping import GatewayTimeout, IPortMapper, Mapping, MappingError
from globalchat.expose.natpmp import (
    NatPmpMapper,
    decodeExternalAddressResponse,
    decodeMapResponse,
    encodeExternalAddressRequest,
    encodeMapRequest,
)

#: Short enough to keep the suite fast, long enough for a loopback answer.
DELAYS = (0.05, 0.05)


def mapAnswer(
    internal: int = 8000,
    external: int = 8000,
    lifetime: int = 3600,
    result: int = 0,
    epoch: int = 1234,
    opcode: int = 130,
) -> bytes:
    """
    A NAT-PMP answer to a TCP mapping request.
    """
    return struct.pack("!BBHIHHI", 0, opcode, result, epoch, internal, external, lifetime)


class FakeGateway(DatagramProtocol):
    """
    A gateway on loopback that records every request and answers each with
    the datagrams C{answer(request)} returns.
    """

    def __init__(self, answer: Callable[[bytes], list[bytes]]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []

    def datagramReceived(self, data: bytes, addr: tuple) -> None:
        self.requests.append(data)
        for reply in self.answer(data):
            self.transport.write(reply, addr)


def listenGateway(
    case: TestCase, answer: Callable[[bytes], list[bytes]], interface: str = "127.0.0.1"
) -> tuple[FakeGateway, int]:
    """
    Start a L{FakeGateway} on C{interface} for the duration of C{case}.

    @return: the gateway and its port.
    """
    gateway = FakeGateway(answer)
    port = reactor.listenUDP(0, gateway, interface=interface)
    case.addCleanup(port.stopListening)
    return gateway, port.getHost().port


class CodecTests(SynchronousTestCase):
    """
    The NAT-PMP wire format, without sockets.
    """

    def test_requests(self):
        """
        Requests have the exact RFC 6886 layout: version 0, opcode 0 for the
        address, opcode 2 (TCP) with ports and lifetime for a mapping.
        """
        self.assertEqual(encodeExternalAddressRequest(), b"\x00\x00")
        self.assertEqual(
            encodeMapRequest(8000, 8001, 3600),
            b"\x00\x02\x00\x00\x1f\x40\x1f\x41\x00\x00\x0e\x10",
        )

    def test_mapSuccess(self):
        """
        A successful answer gives the port, lifetime and epoch the gateway
        granted.
        """
        self.assertEqual(
            decodeMapResponse(mapAnswer(external=8000, lifetime=7200, epoch=99), 8000),
            Mapping("nat-pmp", 8000, 8000, None, 7200, 99),
        )

    def test_otherExternalPort(self):
        """
        A gateway that gave another external port has still succeeded.
        """
        mapping = decodeMapResponse(mapAnswer(external=40123), 8000)
        self.assertEqual(mapping.externalPort, 40123)

    def test_refusals(self):
        """
        Result codes become one-line errors naming protocol and meaning.
        """
        for result, message in [
            (2, "NAT-PMP: the gateway refused (not authorized/refused, result 2)"),
            (4, "NAT-PMP: the gateway refused (out of resources, result 4)"),
            (77, "NAT-PMP: the gateway refused (unknown error, result 77)"),
        ]:
            e = self.assertRaises(
                MappingError, decodeMapResponse, mapAnswer(result=result), 8000
            )
            self.assertEqual(str(e), message)

    def test_shortRefusal(self):
        """
        A refusal that carries only the 8-byte header is still understood.
        """
        e = self.assertRaises(
            MappingError, decodeMapResponse, mapAnswer(result=3)[:8], 8000
        )
        self.assertIn("network failure", str(e))

    def test_strays(self):
        """
        Datagrams that answer something else are ignored, not errors: other
        opcodes, other internal ports, requests, and empty datagrams.
        """
        for data in [
            mapAnswer(opcode=129),
            mapAnswer(internal=9000),
            encodeMapRequest(8000, 8000, 3600),
            b"",
            b"\x00",
        ]:
            self.assertIsNone(decodeMapResponse(data, 8000), data)

    def test_garbage(self):
        """
        Truncated or oversized answers to our opcode are errors, not
        exceptions of another kind.
        """
        for data in [mapAnswer()[:6], mapAnswer()[:12], mapAnswer() + b"\0" * 4,
                     mapAnswer() + b"\xff" * 2032]:
            e = self.assertRaises(MappingError, decodeMapResponse, data, 8000)
            self.assertEqual(
                str(e), f"NAT-PMP: malformed reply from the gateway ({len(data)} bytes)"
            )

    def test_otherVersion(self):
        """
        An answer in another protocol version (a PCP-only gateway) is
        reported rather than waited out.
        """
        data = b"\x02\x82\x00\x01" + b"\0" * 20
        e = self.assertRaises(MappingError, decodeMapResponse, data, 8000)
        self.assertEqual(str(e), "NAT-PMP: the gateway speaks another protocol version (2)")

    @given(st.binary(max_size=64))
    def test_anyBytes(self, data):
        """
        Whatever the LAN sends, decoding ignores it, accepts it or raises
        L{MappingError}; nothing else escapes.
        """
        for decode in [decodeExternalAddressResponse, lambda d: decodeMapResponse(d, 8000)]:
            try:
                decode(data)
            except MappingError:
                pass

    def test_externalAddress(self):
        """
        The address answer gives a dotted quad; an unspecified address means
        the gateway is not connected yet.
        """
        answer = struct.pack("!BBHI4s", 0, 128, 0, 5, bytes([203, 0, 113, 7]))
        self.assertEqual(decodeExternalAddressResponse(answer), "203.0.113.7")
        self.assertIsNone(decodeExternalAddressResponse(mapAnswer()))
        e = self.assertRaises(
            MappingError, decodeExternalAddressResponse, answer[:8] + b"\0" * 4
        )
        self.assertEqual(str(e), "NAT-PMP: the gateway has no external address yet")


class NatPmpMapperTests(TestCase):
    """
    L{NatPmpMapper} against a fake gateway on 127.0.0.1.
    """

    def mapper(
        self, answer: Callable[[bytes], list[bytes]]
    ) -> tuple[NatPmpMapper, FakeGateway]:
        gateway, port = listenGateway(self, answer)
        return NatPmpMapper(reactor, "127.0.0.1", port, delays=DELAYS), gateway

    def test_interface(self):
        """
        The mapper provides L{IPortMapper} and names itself for logs.
        """
        mapper, _ = self.mapper(lambda data: [])
        self.assertTrue(IPortMapper.providedBy(mapper))
        self.assertEqual(mapper.method, "nat-pmp")

    def test_addMapping(self):
        """
        A granted mapping reports the gateway's port, lifetime and epoch,
        and the request asked for what the caller wanted.
        """
        mapper, gateway = self.mapper(
            lambda data: [mapAnswer(internal=8000, external=8001, lifetime=3000, epoch=42)]
        )
        d = mapper.addMapping(8000, 8001, 3600)

        def check(mapping):
            self.assertEqual(mapping, Mapping("nat-pmp", 8000, 8001, None, 3000, 42))
            self.assertEqual(gateway.requests, [encodeMapRequest(8000, 8001, 3600)])

        return d.addCallback(check)

    def test_conflict(self):
        """
        When the gateway gives another external port, the mapping carries
        the port it gave.
        """
        mapper, _ = self.mapper(lambda data: [mapAnswer(external=50000)])
        d = mapper.addMapping(8000, 8000, 3600)
        return d.addCallback(lambda m: self.assertEqual(m.externalPort, 50000))

    def test_strayBeforeAnswer(self):
        """
        A stray datagram ahead of the answer does not spoil the request.
        """
        mapper, _ = self.mapper(
            lambda data: [mapAnswer(opcode=129, external=1), mapAnswer(external=8000)]
        )
        d = mapper.addMapping(8000, 8000, 3600)
        return d.addCallback(lambda m: self.assertEqual(m.externalPort, 8000))

    def test_refused(self):
        """
        A refusal fails the request at once with the gateway's reason.
        """
        mapper, gateway = self.mapper(lambda data: [mapAnswer(result=2)])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)

        def check(e):
            self.assertEqual(
                str(e), "NAT-PMP: the gateway refused (not authorized/refused, result 2)"
            )
            self.assertEqual(len(gateway.requests), 1)

        return d.addCallback(check)

    def test_timeout(self):
        """
        A gateway that never answers fails the request with
        L{GatewayTimeout} once every retransmission went unanswered.
        """
        mapper, gateway = self.mapper(lambda data: [])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), GatewayTimeout)
        d.addCallback(lambda _: self.assertEqual(len(gateway.requests), len(DELAYS)))
        return d

    def test_malformed(self):
        """
        A garbled answer fails the request with a L{MappingError} instead of
        being waited out.
        """
        mapper, _ = self.mapper(lambda data: [mapAnswer()[:10]])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)
        d.addCallback(lambda e: self.assertNotIsInstance(e, GatewayTimeout))
        return d

    def test_oversized(self):
        """
        A reply far larger than any NAT-PMP answer fails the request.
        """
        mapper, _ = self.mapper(lambda data: [mapAnswer() + b"\0" * 3000])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)
        d.addCallback(lambda e: self.assertIn("malformed reply", str(e)))
        return d

    def test_deleteMapping(self):
        """
        Deleting sends lifetime 0 and external port 0 for the mapping's
        internal port, and succeeds with nothing.
        """
        mapper, gateway = self.mapper(
            lambda data: [mapAnswer(internal=8000, external=0, lifetime=0)]
        )
        d = mapper.deleteMapping(Mapping("nat-pmp", 8000, 8001, None, 3600, 1))

        def check(result):
            self.assertIsNone(result)
            self.assertEqual(gateway.requests, [encodeMapRequest(8000, 0, 0)])

        return d.addCallback(check)

    def test_externalAddress(self):
        """
        The gateway's public address is asked for with opcode 0.
        """
        mapper, gateway = self.mapper(
            lambda data: [struct.pack("!BBHI4s", 0, 128, 0, 5, bytes([198, 51, 100, 1]))]
        )
        d = mapper.externalAddress()

        def check(address):
            self.assertEqual(address, "198.51.100.1")
            self.assertEqual(gateway.requests, [b"\x00\x00"])

        return d.addCallback(check)
