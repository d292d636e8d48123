"""
Tests for L{globalchat.client.failover}: several servers of one chat,
tried in turn.
"""

from twisted.internet.defer import fail, succeed
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.testing import MemoryReactor
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from globalchat.client import options as clientOptions
from globalchat.client.failover import FailoverEndpoint


@implementer(IStreamClientEndpoint)
class Node:
    """
    A server that is up or down, counting the attempts to reach it.
    """

    def __init__(self, up=True):
        self.up = up
        self.attempts = 0

    def connect(self, factory):
        self.attempts += 1
        if self.up:
            return succeed(factory.buildProtocol(None))
        return fail(ConnectionRefusedError("down"))


class FailoverEndpointTests(SynchronousTestCase):
    def setUp(self):
        self.a, self.b, self.c = Node(), Node(), Node()
        self.endpoint = FailoverEndpoint([("a:1", self.a), ("b:1", self.b), ("c:1", self.c)])
        self.factory = Factory.forProtocol(Protocol)

    def test_interface(self):
        verifyObject(IStreamClientEndpoint, self.endpoint)

    def test_firstThatAnswers(self):
        """
        A server that is down is passed over at once for the next one.
        """
        self.a.up = False
        self.successResultOf(self.endpoint.connect(self.factory))
        self.assertEqual((self.a.attempts, self.b.attempts, self.c.attempts), (1, 1, 0))
        self.assertEqual(self.endpoint.where, "b:1")

    def test_staysWithTheOneReached(self):
        """
        The next connection goes to the server reached last, even when an
        earlier one is back: clients do not all move back at once.
        """
        self.a.up = False
        self.successResultOf(self.endpoint.connect(self.factory))
        self.a.up = True
        self.successResultOf(self.endpoint.connect(self.factory))
        self.assertEqual((self.a.attempts, self.b.attempts), (1, 2))

    def test_wrapsAround(self):
        """
        After the last server, the first is tried again.
        """
        self.a.up = False
        self.successResultOf(self.endpoint.connect(self.factory))
        self.b.up = self.c.up = False
        self.a.up = True
        self.successResultOf(self.endpoint.connect(self.factory))
        self.assertEqual(self.endpoint.where, "a:1")

    def test_allDown(self):
        """
        When none answers, each was tried once and the last reason is given.
        """
        for node in (self.a, self.b, self.c):
            node.up = False
        self.failureResultOf(self.endpoint.connect(self.factory), ConnectionRefusedError)
        self.assertEqual([n.attempts for n in (self.a, self.b, self.c)], [1, 1, 1])


class ServersOptionTests(SynchronousTestCase):
    def servers(self, *argv):
        return clientOptions.parseArguments([*argv, "--name", "ann"])["servers"]

    def test_one(self):
        """
        One HOST (even an IPv6 address) is one server, on PORT.
        """
        self.assertEqual(self.servers("chat.example.org", "4000"), [("chat.example.org", 4000)])
        self.assertEqual(self.servers("::1"), [("::1", clientOptions.DEFAULT_PORT)])

    def test_several(self):
        """
        HOST1:PORT1,HOST2:PORT2 names several; a server without a port gets
        PORT, and an IPv6 address goes in brackets.
        """
        self.assertEqual(self.servers("a:1,[::1]:2,b", "3"), [("a", 1), ("::1", 2), ("b", 3)])

    def test_badPort(self):
        """
        A bad port in the list is named.
        """
        e = self.assertRaises(clientOptions.UsageError, self.servers, "a:1,b:x")
        self.assertEqual(str(e), "the port of 'b:x' must be a number from 1 to 65535, not 'x'")

    def test_endpoint(self):
        """
        Several servers make a failover endpoint, verified over TLS for
        each server's own name.
        """
        endpoint, pinned = clientOptions.makeEndpoint(
            MemoryReactor(), clientOptions.parseArguments(["a:1,b:2", "--tls"]))
        self.assertIsInstance(endpoint, FailoverEndpoint)
        self.assertIsNone(pinned)
        self.assertEqual(endpoint.where, "a:1")
