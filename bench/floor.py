"""
The floor: the smallest batched Twisted broadcast server, to compare
globalchat's fan-out against.  A client's first line is its name (and
optionally a room, C{NAME #room}; C{#lobby} otherwise), answered with
C{hello NAME} so that it knows it is in; every later line goes to every
client in its room as C{<name> text}, and each client's lines of one
reactor turn are written to it at once.  C{python -m bench.floor PORT}
"""

import sys

from twisted.internet import protocol, reactor
from twisted.protocols.basic import LineOnlyReceiver


class Floor(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 4096
    name = None
    room = b"#lobby"

    def connectionMade(self) -> None:
        self.pending: list[bytes] = []

    def connectionLost(self, reason: object) -> None:
        if self.name is not None:
            self.factory.rooms[self.room].discard(self)

    def lineReceived(self, line: bytes) -> None:
        if self.name is None:
            self.name, _, room = line.partition(b" ")
            self.room = room or self.room
            self.factory.rooms.setdefault(self.room, set()).add(self)
            self.transport.write(b"hello " + self.name + b"\n")
            return
        said = b"<" + self.name + b"> " + line + b"\n"
        for client in self.factory.rooms[self.room]:
            client.pending.append(said)
            self.factory.later(client)


class Turn(protocol.ServerFactory):
    """
    Clients by room, and those owed lines in this reactor turn: their
    lines are written once the turn's reads are done.
    """

    protocol = Floor

    def __init__(self) -> None:
        self.rooms: dict[bytes, set[Floor]] = {}
        self.owed: set[Floor] = set()

    def later(self, client: Floor) -> None:
        if not self.owed:
            reactor.callLater(0, self.flush)
        self.owed.add(client)

    def flush(self) -> None:
        owed, self.owed = self.owed, set()
        for client in owed:
            client.transport.write(b"".join(client.pending))
            client.pending = []


if __name__ == "__main__":
    reactor.listenTCP(int(sys.argv[1]), Turn(), interface="127.0.0.1")
    reactor.run()
