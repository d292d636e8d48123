"""
Tests for L{globalchat.expose.pcp}: the PCP MAP codec and mapper.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Callable

from hypothesis import given, strategies as st
from twisted.internet import reactor
from twisted.internet.error import CannotListenError
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from globalchat.expose.mapping import GatewayTimeout, IPortMapper, Mapping, MappingError
from globalchat.expose.pcp import (
    DISCARD_PORT,
    PcpMapper,
    PcpResultError,
    decodeMapResponse,
    encodeMapRequest,
)
from tests.test_expose_natpmp import DELAYS, FakeGateway, listenGateway

NONCE = bytes(range(12))
MAPPED_ZERO = b"\0" * 10 + b"\xff\xff" + b"\0" * 4


def packed(address: str) -> bytes:
    """
    C{address} as PCP carries it: 16 bytes, IPv4 mapped into IPv6.
    """
    parsed = ipaddress.ip_address(address)
    if parsed.version == 4:
        return b"\0" * 10 + b"\xff\xff" + parsed.packed
    return parsed.packed


def mapAnswer(
    nonce: bytes = NONCE,
    internal: int = 8000,
    external: int = 8000,
    address: str = "203.0.113.9",
    lifetime: int = 3600,
    result: int = 0,
    epoch: int = 777,
    version: int = 2,
    opcode: int = 0x81,
    protocol: int = 6,
) -> bytes:
    """
    A PCP answer to a MAP request.
    """
    return struct.pack(
        "!BBBBII12x12sB3xHH16s", version, opcode, 0, result, lifetime, epoch,
        nonce, protocol, internal, external, packed(address),
    )


def parseRequest(data: bytes) -> dict:
    """
    The fields of a MAP request, for fake gateways and assertions.
    """
    version, opcode, lifetime, client, nonce, protocol, internal, external, suggested = (
        struct.unpack("!BBxxI16s12sB3xHH16s", data)
    )
    return dict(
        version=version, opcode=opcode, lifetime=lifetime, client=client, nonce=nonce,
        protocol=protocol, internal=internal, external=external, suggested=suggested,
    )


def answerTo(data: bytes, **fields) -> bytes:
    """
    A PCP answer matching the request C{data}, granting what it asked for
    unless C{fields} say otherwise.
    """
    request = parseRequest(data)
    answer = dict(
        nonce=request["nonce"], internal=request["internal"],
        external=request["external"], lifetime=request["lifetime"],
    )
    answer.update(fields)
    return mapAnswer(**answer)


class CodecTests(SynchronousTestCase):
    """
    The PCP MAP wire format, without sockets.
    """

    def test_requestIPv4(self):
        """
        A request carries version 2, opcode MAP, the lifetime, the client's
        IPv4 address mapped into IPv6, the nonce, TCP, both ports, and an
        all-zero IPv4-mapped suggested external address.
        """
        data = encodeMapRequest("192.168.1.20", NONCE, 8000, 8001, 3600)
        self.assertEqual(len(data), 60)
        self.assertEqual(
            parseRequest(data),
            dict(version=2, opcode=1, lifetime=3600, client=packed("192.168.1.20"),
                 nonce=NONCE, protocol=6, internal=8000, external=8001,
                 suggested=MAPPED_ZERO),
        )

    def test_requestIPv6(self):
        """
        For IPv6 the client address is the IPv6 address itself and the
        suggested external address is all zeros.
        """
        request = parseRequest(encodeMapRequest("2001:db8::5", NONCE, 8000, 0, 60))
        self.assertEqual(request["client"], packed("2001:db8::5"))
        self.assertEqual(request["suggested"], b"\0" * 16)

    def test_success(self):
        """
        A successful answer gives port, IPv4 address, lifetime and epoch.
        """
        self.assertEqual(
            decodeMapResponse(
                mapAnswer(external=8001, lifetime=1800, epoch=5), NONCE, 8000
            ),
            Mapping("pcp", 8000, 8001, "203.0.113.9", 1800, 5),
        )

    def test_successIPv6(self):
        """
        An IPv6 pinhole's answer gives the IPv6 address.
        """
        mapping = decodeMapResponse(mapAnswer(address="2001:db8::5"), NONCE, 8000)
        self.assertEqual(mapping.externalAddress, "2001:db8::5")

    def test_otherExternalPort(self):
        """
        A gateway that assigned another port has still succeeded.
        """
        mapping = decodeMapResponse(mapAnswer(external=61000), NONCE, 8000)
        self.assertEqual(mapping.externalPort, 61000)

    def test_withOptions(self):
        """
        Options after the MAP body do not stop the answer being read.
        """
        data = mapAnswer() + b"\x01\x00\x00\x04" + b"\0" * 4
        self.assertEqual(decodeMapResponse(data, NONCE, 8000).externalPort, 8000)

    def test_refusals(self):
        """
        Result codes become L{PcpResultError}s naming the result.
        """
        for result, message in [
            (2, "PCP: the gateway refused (NOT_AUTHORIZED)"),
            (8, "PCP: the gateway refused (NO_RESOURCES)"),
            (99, "PCP: the gateway refused (result 99)"),
        ]:
            e = self.assertRaises(
                PcpResultError, decodeMapResponse, mapAnswer(result=result), NONCE, 8000
            )
            self.assertEqual((str(e), e.resultCode), (message, result))

    def test_headerOnlyRefusal(self):
        """
        A refusal without the MAP body is still understood.
        """
        e = self.assertRaises(
            PcpResultError, decodeMapResponse, mapAnswer(result=2)[:24], NONCE, 8000
        )
        self.assertEqual(e.resultCode, 2)

    def test_onlyNatPmp(self):
        """
        A NAT-PMP answer (version 0) or UNSUPP_VERSION says the gateway
        speaks only NAT-PMP.
        """
        for data in [
            struct.pack("!BBHI", 0, 0x81, 1, 10),
            mapAnswer(result=1),
            mapAnswer(result=1)[:24],
        ]:
            e = self.assertRaises(MappingError, decodeMapResponse, data, NONCE, 8000)
            self.assertEqual(
                str(e), "PCP: the gateway speaks only NAT-PMP (UNSUPP_VERSION)"
            )

    def test_otherVersion(self):
        """
        An answer in a PCP version we do not speak is an error.
        """
        e = self.assertRaises(
            MappingError, decodeMapResponse, mapAnswer(version=1), NONCE, 8000
        )
        self.assertEqual(str(e), "PCP: the gateway speaks only protocol version 1")

    def test_strays(self):
        """
        Datagrams answering other requests are ignored: other opcode, other
        nonce, other protocol, other internal port, requests, empty ones.
        """
        for data in [
            mapAnswer(opcode=0x82),
            mapAnswer(nonce=b"x" * 12),
            mapAnswer(nonce=b"x" * 12, result=2),
            mapAnswer(protocol=17),
            mapAnswer(internal=9000),
            encodeMapRequest("10.0.0.2", NONCE, 8000, 8000, 3600),
            b"",
        ]:
            self.assertIsNone(decodeMapResponse(data, NONCE, 8000), data)

    @given(st.binary(max_size=128), st.booleans())
    def test_anyBytes(self, data, ourHeader):
        """
        Whatever the LAN sends, decoding ignores it, accepts it or raises
        L{MappingError}; nothing else escapes.
        """
        if ourHeader:
            data = b"\x02\x81" + data
        try:
            decodeMapResponse(data, NONCE, 8000)
        except MappingError:
            pass

    def test_garbage(self):
        """
        Answers to our opcode that are truncated, not a multiple of 4 bytes
        or larger than PCP allows are errors.
        """
        for data in [
            mapAnswer()[:12],
            mapAnswer()[:40],
            mapAnswer() + b"\0",
            mapAnswer() + b"\0" * 1044,
        ]:
            e = self.assertRaises(MappingError, decodeMapResponse, data, NONCE, 8000)
            self.assertEqual(
                str(e), f"PCP: malformed reply from the gateway ({len(data)} bytes)"
            )


class PcpMapperTests(TestCase):
    """
    L{PcpMapper} against a fake PCP server on loopback.
    """

    def mapper(
        self, answer: Callable[[bytes], list[bytes]], interface: str = "127.0.0.1"
    ) -> tuple[PcpMapper, FakeGateway]:
        gateway, port = listenGateway(self, answer, interface)
        return PcpMapper(reactor, interface, port, delays=DELAYS), gateway

    def test_interface(self):
        """
        The mapper provides L{IPortMapper} and names itself for logs.
        """
        mapper, _ = self.mapper(lambda data: [])
        self.assertTrue(IPortMapper.providedBy(mapper))
        self.assertEqual(mapper.method, "pcp")

    def test_addMapping(self):
        """
        A granted mapping reports port, address, lifetime and epoch; the
        request names the local address facing the gateway.
        """
        mapper, gateway = self.mapper(
            lambda data: [answerTo(data, lifetime=1200, epoch=31)]
        )
        d = mapper.addMapping(8000, 8001, 3600)

        def check(mapping):
            self.assertEqual(mapping, Mapping("pcp", 8000, 8001, "203.0.113.9", 1200, 31))
            request = parseRequest(gateway.requests[0])
            self.assertEqual(request["client"], packed("127.0.0.1"))
            self.assertEqual(request["suggested"], MAPPED_ZERO)
            self.assertEqual(
                (request["internal"], request["external"], request["lifetime"]),
                (8000, 8001, 3600),
            )

        return d.addCallback(check)

    def test_conflict(self):
        """
        When the gateway assigns another port, the mapping carries it.
        """
        mapper, _ = self.mapper(lambda data: [answerTo(data, external=40000)])
        d = mapper.addMapping(8000, 8000, 3600)
        return d.addCallback(lambda m: self.assertEqual(m.externalPort, 40000))

    def test_cannotProvideExternal(self):
        """
        CANNOT_PROVIDE_EXTERNAL makes the mapper ask once more for any port
        with the same nonce, and take the port the gateway offers.
        """

        def answer(data):
            if parseRequest(data)["external"]:
                return [answerTo(data, result=11)]
            return [answerTo(data, external=50500)]

        mapper, gateway = self.mapper(answer)
        d = mapper.addMapping(8000, 8000, 3600)

        def check(mapping):
            self.assertEqual(mapping.externalPort, 50500)
            first, second = map(parseRequest, gateway.requests)
            self.assertEqual((first["external"], second["external"]), (8000, 0))
            self.assertEqual(first["nonce"], second["nonce"])

        return d.addCallback(check)

    def test_cannotProvideAnyExternal(self):
        """
        A gateway that still cannot provide a port is asked only twice.
        """
        mapper, gateway = self.mapper(lambda data: [answerTo(data, result=11)])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), PcpResultError)

        def check(e):
            self.assertEqual(str(e), "PCP: the gateway refused (CANNOT_PROVIDE_EXTERNAL)")
            self.assertEqual(len(gateway.requests), 2)

        return d.addCallback(check)

    def test_cannotProvideAnyPortNoRetry(self):
        """
        A request that already let the gateway pick the port is not
        repeated when it says CANNOT_PROVIDE_EXTERNAL.
        """
        mapper, gateway = self.mapper(lambda data: [answerTo(data, result=11)])
        d = self.assertFailure(mapper.addMapping(8000, 0, 3600), PcpResultError)
        d.addCallback(lambda _: self.assertEqual(len(gateway.requests), 1))
        return d

    def test_refused(self):
        """
        NOT_AUTHORIZED fails the request at once, without a retry.
        """
        mapper, gateway = self.mapper(lambda data: [answerTo(data, result=2)])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)

        def check(e):
            self.assertEqual(str(e), "PCP: the gateway refused (NOT_AUTHORIZED)")
            self.assertEqual(len(gateway.requests), 1)

        return d.addCallback(check)

    def test_unsupportedVersion(self):
        """
        A NAT-PMP-only gateway answering in version 0 fails the request with
        an error saying so, rather than a timeout.
        """
        mapper, _ = self.mapper(lambda data: [struct.pack("!BBHI", 0, 0x81, 1, 10)])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)
        d.addCallback(lambda e: self.assertEqual(
            str(e), "PCP: the gateway speaks only NAT-PMP (UNSUPP_VERSION)"))
        return d

    def test_timeout(self):
        """
        A silent gateway fails the request with L{GatewayTimeout}.
        """
        mapper, gateway = self.mapper(lambda data: [])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), GatewayTimeout)
        d.addCallback(lambda e: self.assertEqual(str(e), "PCP: no answer from 127.0.0.1"))
        return d

    def test_wrongNonceIgnored(self):
        """
        Answers carrying another nonce are not taken for ours: with only
        such answers the request times out, and a real one after them wins.
        """
        stray = lambda data: answerTo(data, nonce=b"z" * 12, external=1)
        mapper, _ = self.mapper(lambda data: [stray(data)])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), GatewayTimeout)

        def thenRealAnswer(_):
            mapper, _ = self.mapper(lambda data: [stray(data), answerTo(data)])
            return mapper.addMapping(8000, 8000, 3600)

        d.addCallback(thenRealAnswer)
        d.addCallback(lambda m: self.assertEqual(m.externalPort, 8000))
        return d

    def test_malformed(self):
        """
        A truncated answer fails the request with L{MappingError} at once.
        """
        mapper, _ = self.mapper(lambda data: [answerTo(data)[:40]])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)
        d.addCallback(lambda e: self.assertEqual(
            str(e), "PCP: malformed reply from the gateway (40 bytes)"))
        return d

    def test_oversized(self):
        """
        An answer larger than any PCP message fails the request.
        """
        mapper, _ = self.mapper(lambda data: [answerTo(data) + b"\0" * 3000])
        d = self.assertFailure(mapper.addMapping(8000, 8000, 3600), MappingError)
        d.addCallback(lambda e: self.assertIn("malformed reply", str(e)))
        return d

    def test_renewAndDeleteKeepNonce(self):
        """
        Renewing and deleting a mapping reuse its nonce, so the gateway
        accepts them as the same client's; deleting asks for lifetime 0.
        Another internal port gets another nonce.
        """
        mapper, gateway = self.mapper(lambda data: [answerTo(data)])
        d = mapper.addMapping(8000, 8000, 3600)
        d.addCallback(lambda _: mapper.addMapping(8000, 8000, 3600))
        d.addCallback(mapper.deleteMapping)
        d.addCallback(lambda _: mapper.addMapping(8100, 8100, 3600))

        def check(_):
            requests = [parseRequest(r) for r in gateway.requests]
            self.assertEqual([r["lifetime"] for r in requests], [3600, 3600, 0, 3600])
            self.assertEqual(requests[2]["internal"], 8000)
            self.assertEqual(len({r["nonce"] for r in requests[:3]}), 1)
            self.assertNotEqual(requests[3]["nonce"], requests[0]["nonce"])

        return d.addCallback(check)

    def test_deleteReturnsNothing(self):
        """
        A successful deletion fires with C{None}.
        """
        mapper, _ = self.mapper(lambda data: [answerTo(data, lifetime=0)])
        d = mapper.deleteMapping(Mapping("pcp", 8000, 8000, None, 3600, 1))
        return d.addCallback(self.assertIsNone)

    def test_externalAddress(self):
        """
        The external address comes from a short mapping of the Discard port
        that lets the gateway pick the external port.
        """
        mapper, gateway = self.mapper(lambda data: [answerTo(data, address="198.51.100.4")])
        d = mapper.externalAddress()

        def check(address):
            self.assertEqual(address, "198.51.100.4")
            request = parseRequest(gateway.requests[0])
            self.assertEqual((request["internal"], request["external"]), (DISCARD_PORT, 0))
            self.assertLessEqual(request["lifetime"], 120)

        return d.addCallback(check)

    def test_externalAddressUnspecified(self):
        """
        An answer without an external address is an error, not C{None}.
        """
        mapper, _ = self.mapper(lambda data: [answerTo(data, address="0.0.0.0")])
        d = self.assertFailure(mapper.externalAddress(), MappingError)
        d.addCallback(lambda e: self.assertEqual(
            str(e), "PCP: the gateway did not say its external address"))
        return d

    def test_ipv6Pinhole(self):
        """
        Over IPv6 the request carries the local IPv6 address and an all-zero
        suggestion, and the mapping has the address from the answer.
        """
        if not socket.has_ipv6:
            raise SkipTest("no IPv6")
        try:
            mapper, gateway = self.mapper(
                lambda data: [answerTo(data, address="2001:db8::7")], interface="::1"
            )
        except CannotListenError as e:
            raise SkipTest(f"cannot listen on ::1: {e}")
        d = mapper.addMapping(8000, 8000, 3600)

        def check(mapping):
            self.assertEqual(mapping.externalAddress, "2001:db8::7")
            request = parseRequest(gateway.requests[0])
            self.assertEqual(request["client"], packed("::1"))
            self.assertEqual(request["suggested"], b"\0" * 16)

        return d.addCallback(check)
