"""
Tests for L{globalchat.expose.udp}: the retransmitting UDP request.
"""

from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol
from twisted.trial.unittest import TestCase

from globalchat.expose.mapping import GatewayTimeout, MappingError
from globalchat.expose.udp import request


class _Echo(DatagramProtocol):
    """
    Answers each datagram after dropping the first C{drop} of them.
    """

    def __init__(self, drop: int = 0, reply: bytes | None = None) -> None:
        self.drop = drop
        self.reply = reply
        self.seen = []

    def datagramReceived(self, data, addr):
        self.seen.append(data)
        if len(self.seen) > self.drop:
            self.transport.write(self.reply or data.upper(), addr)


class RequestTests(TestCase):
    """
    L{request} against a server on 127.0.0.1.
    """

    def listen(self, proto):
        port = reactor.listenUDP(0, proto, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        return port.getHost().port

    def test_retransmitsUntilAnswered(self):
        """
        Lost datagrams are resent and the first accepted reply wins; the
        request carries the local address it was sent from.
        """
        server = _Echo(drop=2)
        port = self.listen(server)
        d = request(
            reactor, "127.0.0.1", port, lambda local: local.encode(),
            lambda data: data, "TEST", delays=(0.05, 0.05, 0.05, 1),
        )
        d.addCallback(self.assertEqual, b"127.0.0.1")
        d.addCallback(lambda _: self.assertEqual(len(server.seen), 3))
        return d

    def test_timeout(self):
        """
        With no answer the request fails with L{GatewayTimeout} naming the
        protocol and the host.
        """
        port = self.listen(_Echo(drop=100))
        d = request(
            reactor, "127.0.0.1", port, lambda local: b"x",
            lambda data: data, "TEST", delays=(0.02, 0.02),
        )
        d = self.assertFailure(d, GatewayTimeout)
        d.addCallback(lambda e: self.assertEqual(
            str(e), "TEST: no answer from 127.0.0.1"))
        return d

    def test_refusalFromAccept(self):
        """
        A L{MappingError} raised by the parser fails the request at once.
        """
        port = self.listen(_Echo())

        def accept(data):
            raise MappingError("TEST: refused")

        d = request(reactor, "127.0.0.1", port, lambda local: b"x", accept, "TEST")
        return self.assertFailure(d, MappingError)

    def test_ignoresNonAnswers(self):
        """
        Replies the parser does not accept are ignored, not errors.
        """
        port = self.listen(_Echo(reply=b"noise"))
        d = request(
            reactor, "127.0.0.1", port, lambda local: b"x",
            lambda data: None, "TEST", delays=(0.02, 0.02),
        )
        return self.assertFailure(d, GatewayTimeout)

    def test_closedPort(self):
        """
        A host with nothing on the port (ICMP port unreachable) is told
        apart from one that does not answer.
        """
        closed = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.1")
        number = closed.getHost().port
        closed.stopListening()
        d = request(reactor, "127.0.0.1", number, lambda local: b"x",
                    lambda data: data, "TEST", delays=(0.2, 0.2, 0.2))
        d = self.assertFailure(d, MappingError)
        d.addCallback(lambda e: self.assertEqual(
            str(e), "TEST: 127.0.0.1 does not offer it (port closed)"))
        return d
