"""
Tests for L{globalchat.expose.stun}.
"""

import struct

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat.expose import stun
from globalchat.expose.mapping import MappingError

# RFC 5769 section 2.2: a sample IPv4 response.
RFC5769_TRANSACTION = bytes.fromhex("b7e7a701bc34d686fa87dfae")
RFC5769_RESPONSE = bytes.fromhex(
    "0101003c2112a442b7e7a701bc34d686fa87dfae"
    "8022000b7465737420766563746f7220"
    "002000080001a147e112a643"
    "000800144a3cf38f06b1e9b8c2b1c2d1d67e3df68a98d1e5"
    "80280004c5c24c6f"
)


def response(transaction, attributes, kind=stun.BINDING_SUCCESS):
    body = b"".join(struct.pack("!HH", t, len(v)) + v + b"\0" * (-len(v) % 4)
                    for t, v in attributes)
    return struct.pack("!HHI12s", kind, len(body), stun.MAGIC_COOKIE, transaction) + body


def xorAddress(transaction, host, port):
    import ipaddress

    raw = ipaddress.ip_address(host).packed
    key = struct.pack("!I", stun.MAGIC_COOKIE) + transaction
    family = 1 if len(raw) == 4 else 2
    return struct.pack("!BBH", 0, family, port ^ 0x2112) + bytes(a ^ b for a, b in zip(raw, key))


class CodecTests(SynchronousTestCase):
    """
    Encoding requests and decoding responses.
    """

    def test_request(self):
        """
        A Binding request is the 20-byte header with the magic cookie.
        """
        self.assertEqual(stun.encodeBindingRequest(b"t" * 12),
                         bytes.fromhex("000100002112a442") + b"t" * 12)

    def test_rfc5769(self):
        """
        The RFC 5769 IPv4 sample response decodes to 192.0.2.1:32853.
        """
        self.assertEqual(stun.decodeBindingResponse(RFC5769_RESPONSE, RFC5769_TRANSACTION),
                         ("192.0.2.1", 32853))

    def test_ipv6(self):
        """
        IPv6 XOR-MAPPED-ADDRESS is decoded with the transaction id.
        """
        t = b"abcdefghijkl"
        data = response(t, [(stun.XOR_MAPPED_ADDRESS, xorAddress(t, "2001:db8::7", 4000))])
        self.assertEqual(stun.decodeBindingResponse(data, t), ("2001:db8::7", 4000))

    def test_mappedAddressFallback(self):
        """
        Old servers' plain MAPPED-ADDRESS is used when there is no XOR one.
        """
        t = b"abcdefghijkl"
        data = response(t, [(stun.MAPPED_ADDRESS, struct.pack("!BBH4B", 0, 1, 5000, 8, 8, 4, 4))])
        self.assertEqual(stun.decodeBindingResponse(data, t), ("8.8.4.4", 5000))

    def test_strays(self):
        """
        Another transaction, no cookie, or a short datagram is not our answer.
        """
        t = b"abcdefghijkl"
        good = response(t, [(stun.XOR_MAPPED_ADDRESS, xorAddress(t, "8.8.8.8", 1))])
        self.assertIsNone(stun.decodeBindingResponse(good, b"x" * 12))
        self.assertIsNone(stun.decodeBindingResponse(good[:10], t))
        self.assertIsNone(stun.decodeBindingResponse(good[:4] + b"\0\0\0\0" + good[8:], t))

    def test_errors(self):
        """
        Error responses and garbage claiming to be our answer are
        MappingErrors with one line.
        """
        t = b"abcdefghijkl"
        error = response(t, [(stun.ERROR_CODE, b"\0\0\x04\x00Bad Request")], stun.BINDING_ERROR)
        e = self.assertRaises(MappingError, stun.decodeBindingResponse, error, t)
        self.assertEqual(str(e), "STUN: the server answered 400 Bad Request")
        for bad in (response(t, []) + b"\0\0",
                    response(t, [(stun.XOR_MAPPED_ADDRESS, b"\0\x09\0\0")]),
                    response(t, [(0x8022, b"x")])):
            self.assertRaises(MappingError, stun.decodeBindingResponse, bad, t)

    def test_parseHostPort(self):
        """
        Host, host:port and [v6]:port; bad values name themselves.
        """
        self.assertEqual(stun.parseHostPort("stun.example.org"), ("stun.example.org", 3478))
        self.assertEqual(stun.parseHostPort("1.2.3.4:19302"), ("1.2.3.4", 19302))
        self.assertEqual(stun.parseHostPort("[2001:db8::1]:3479"), ("2001:db8::1", 3479))
        self.assertEqual(stun.parseHostPort("[::1]"), ("::1", 3478))
        for bad in ("", "h:0", "h:x", "[::1", "[::1]x", "h:70000"):
            self.assertRaises(ValueError, stun.parseHostPort, bad)


class FakeStun(DatagramProtocol):
    """
    Answers Binding requests with the address it sees, or with C{reply}.
    """

    def __init__(self, reply=None):
        self.reply = reply

    def datagramReceived(self, data, addr):
        transaction = data[8:20]
        body = self.reply(transaction) if self.reply else response(
            transaction, [(stun.XOR_MAPPED_ADDRESS, xorAddress(transaction, addr[0], addr[1]))])
        self.transport.write(body, addr)


class NetworkTests(TestCase):
    """
    L{stun.stunAddress} against a fake server on 127.0.0.1.
    """

    def serve(self, proto):
        port = reactor.listenUDP(0, proto, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def test_address(self):
        """
        The server's view of our address and port comes back.
        """
        port = self.serve(FakeStun())
        d = stun.stunAddress(reactor, "127.0.0.1", port)
        d.addCallback(lambda seen: self.assertEqual(seen[0], "127.0.0.1"))
        return d

    def test_firstThatAnswers(self):
        """
        A server that errs is skipped for the next.
        """
        bad = self.serve(FakeStun(lambda t: response(
            t, [(stun.ERROR_CODE, b"\0\0\x05\x00Server Error")], stun.BINDING_ERROR)))
        good = self.serve(FakeStun())
        d = ensureDeferred(stun.firstStunAddress(reactor, [("127.0.0.1", bad), ("127.0.0.1", good)]))
        d.addCallback(lambda seen: self.assertEqual(seen[0], "127.0.0.1"))
        return d
