"""
A transport that carries lines in lists: no sockets and no byte stream.

It is the whole of what a transport must do for the chat (give each line
to a session, take whole lines back, pass on back-pressure, report the
end of the connection), so its size is the cost of a new transport.
"""

from zope.interface import implementer

from globalchat.chat.admission import Admission
from globalchat.chat.connection import IConnection
from globalchat.chat.wire import EOL


@implementer(IConnection)
class LinesInMemory:
    """
    One client, typing lines and reading the lines it is sent.

    @ivar received: every line it was sent, as text.
    @ivar closed: whether the server hung up (C{"closed"} or C{"aborted"}).
    """

    def __init__(self, admission: Admission, host: str = "192.0.2.1",
                 certificate=None) -> None:
        self.peer = f"{host}:4000"
        self.host = host
        self.certificate = certificate
        self.kind = "memory"
        self.received: list[str] = []
        self.closed: str | None = None
        self._admission = admission
        self.session = admission.connect(self)

    def type(self, *lines: str) -> None:
        """
        Send C{lines}, as one read from the network.
        """
        with self._admission.hub.batch():
            for line in lines:
                if self.session is None:
                    return
                self.session.receive(line.encode("utf-8"))

    def read(self) -> list[str]:
        """
        The lines received since the last read, once the turn is over.
        """
        self._admission.output.flush()
        lines, self.received = self.received, []
        return lines

    def stopReading(self) -> None:
        """
        The client stops reading: its buffers are full.
        """
        self.session.pauseProducing()

    def startReading(self) -> None:
        self.session.resumeProducing()

    def write(self, data: bytes) -> None:
        assert data.endswith(EOL), data
        self.received.extend(data.decode("utf-8").split("\r\n")[:-1])

    def close(self) -> None:
        self._lost("closed")

    def abort(self) -> None:
        self._lost("aborted")

    def _lost(self, how: str) -> None:
        if self.closed is None:
            self.closed = how
            session, self.session = self.session, None
            if session is not None:
                session.disconnected()
