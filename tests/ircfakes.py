"""
IRC clients over a L{StringTransport}, talking to the real IRC port's
protocol, beside line-protocol clients of the same hub.
"""

from twisted.internet.address import IPv4Address

from globalchat.irc.message import parse
from globalchat.irc.transport import ircFactory
from tests.chatfakes import Chat, TurnTransport


class IRCClient:
    """
    One IRC client: C{send} lines, read the parsed messages it got.
    """

    def __init__(self, factory, clock, host="198.51.100.7", port=5000, certificate=None):
        self.transport = TurnTransport(clock, peerAddress=IPv4Address("TCP", host, port))
        if certificate is not None:
            self.transport.getPeerCertificate = lambda: certificate
        self.protocol = factory.buildProtocol(self.transport.getPeer())
        self.protocol.makeConnection(self.transport)

    @property
    def session(self):
        return self.protocol._session

    def send(self, *lines):
        """
        Send C{lines} in one read.
        """
        self.protocol.dataReceived(b"".join(
            (line.encode("utf-8") if isinstance(line, str) else line) + b"\r\n"
            for line in lines))

    def raw(self):
        """
        The bytes received since the last read.
        """
        data = self.transport.value()
        self.transport.clear()
        return data

    def messages(self):
        """
        The messages received since the last read, parsed.
        """
        return [parse(line) for line in self.raw().split(b"\r\n") if line]

    def commands(self):
        return [m.command for m in self.messages()]

    def lose(self):
        self.protocol.connectionLost(None)


class IRCChat(Chat):
    """
    A hub with accounts and an IRC port.
    """

    def __init__(self, guests=True, operators=()):
        super().__init__(guests=guests, operators=operators)
        self.factory = ircFactory(self.admission)
        self._ports = 5000

    def irc(self, nick=None, caps=(), host="198.51.100.7", certificate=None, user="user"):
        """
        An IRC client; registered as C{nick}, with C{caps}, if given.
        """
        self._ports += 1
        client = IRCClient(self.factory, self.clock, host, self._ports, certificate)
        if nick is not None:
            lines = []
            if caps:
                lines += ["CAP LS 302", f"CAP REQ :{' '.join(caps)}"]
            lines += [f"NICK {nick}", f"USER {user} 0 * :Real {nick}"]
            if caps:
                lines.append("CAP END")
            client.send(*lines)
            client.messages()
        return client
