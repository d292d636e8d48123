"""
The floor: the smallest Twisted broadcast server (a name line, answered
with C{hello NAME} so that clients know they are in, then every line to
every client as C{<name> text}, one write per line per recipient), to
compare globalchat's fan-out against.  C{python -m bench.floor PORT}
"""

import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import LineOnlyReceiver


class Floor(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 4096
    name = None

    def connectionMade(self) -> None:
        self.factory.clients.add(self)

    def connectionLost(self, reason: object) -> None:
        self.factory.clients.discard(self)

    def lineReceived(self, line: bytes) -> None:
        if self.name is None:
            self.name = line
            self.transport.write(b"hello " + line + b"\n")
            return
        for client in self.factory.clients:
            client.transport.write(b"<" + self.name + b"> " + line + b"\n")


if __name__ == "__main__":
    factory = protocol.ServerFactory.forProtocol(Floor)
    factory.clients = set()
    reactor.listenTCP(int(sys.argv[1]), factory, interface="127.0.0.1")
    reactor.run()
