"""
A browser's side of the web port: raw HTTP requests and WebSocket frames
in memory over a L{StringTransport}, for the tests of L{globalchat.web},
and over a socket to a real server, for integration tests.
"""

from __future__ import annotations

import socket
import struct

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from globalchat.web.site import ChatSite
from tests.chatfakes import TurnTransport

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
#: What RFC 6455 says the server answers to L{KEY}.
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

TEXT, BINARY, CLOSE = 1, 2, 8


class Transport(TurnTransport):
    """
    A L{StringTransport} that, like TCP and TLS transports, lets a
    protocol unregister a producer it did not register, read once the
    turn of the clock it is given is over.
    """

    def unregisterProducer(self) -> None:
        if self.producer is not None:
            super().unregisterProducer()


def frame(payload: bytes, opcode: int = TEXT, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    """
    One masked frame, as a browser sends it.
    """
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 2**16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """
    The server's (unmasked) frames in C{data}: opcode and payload each.
    """
    found = []
    while data:
        opcode, size = data[0] & 0x0F, data[1] & 0x7F
        at = 2
        if size == 126:
            size, at = struct.unpack("!H", data[2:4])[0], 4
        elif size == 127:
            size, at = struct.unpack("!Q", data[2:10])[0], 10
        found.append((opcode, data[at:at + size]))
        data = data[at + size:]
    return found


class Browser:
    """
    One connection to a L{ChatSite}, from C{host}.

    @ivar transport: what the server wrote, and whether it hung up.
    @ivar protocol: the connection's protocol (C{None} if refused at once).
    """

    def __init__(self, site: ChatSite, host: str = "198.51.100.7", port: int = 40000,
                 clock: Clock | None = None) -> None:
        address = IPv4Address("TCP", host, port)
        self.transport = Transport(clock or Clock(), peerAddress=address,
                                   hostAddress=IPv4Address("TCP", "192.0.2.1", 8080))
        self.protocol = site.buildProtocol(address)
        if self.protocol is not None:
            self.protocol.makeConnection(self.transport)

    def request(self, path: bytes, method: bytes = b"GET", **headers: str) -> bytes:
        """
        Send one HTTP request and return the raw answer so far.
        """
        lines = [method + b" " + path + b" HTTP/1.1", b"Host: chat.example:8080"]
        lines += [f"{k.replace('_', '-')}: {v}".encode() for k, v in headers.items()]
        self.transport.protocol = self.protocol
        self.protocol.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n")
        return self.read()

    def open(self, origin: str | None = "http://chat.example:8080", **headers: str) -> bytes:
        """
        The WebSocket handshake; the server's answer.
        """
        if origin is not None:
            headers["Origin"] = origin
        return self.request(b"/ws", Upgrade="websocket", Connection="Upgrade",
                            Sec_WebSocket_Key=KEY.decode(), Sec_WebSocket_Version="13",
                            **headers)

    def read(self) -> bytes:
        data = self.transport.value()
        self.transport.clear()
        return data

    def send(self, payload: bytes, opcode: int = TEXT) -> None:
        self.transport.protocol.dataReceived(frame(payload, opcode))

    def type(self, *lines: str) -> None:
        for line in lines:
            self.send(line.encode("utf-8"))

    def received(self) -> list[tuple[int, bytes]]:
        return frames(self.read())

    def lines(self) -> list[str]:
        """
        The text frames received since the last read.
        """
        return [payload.decode("utf-8") for opcode, payload in self.received() if opcode == TEXT]

    def lost(self) -> None:
        """
        The TCP connection ended.
        """
        self.transport.protocol.connectionLost(Failure(ConnectionDone()))


class SocketBrowser:
    """
    A browser's side of a real server's web port: the page's WebSocket
    over a socket on 127.0.0.1, with the page's own origin, for
    integration tests that need no Chromium.
    """

    def __init__(self, testCase, port: int, timeout: float = 10) -> None:
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        testCase.addCleanup(self.socket.close)
        origin = f"127.0.0.1:{port}"
        self.socket.sendall(
            f"GET /ws HTTP/1.1\r\nHost: {origin}\r\nOrigin: http://{origin}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self._receive()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"WebSocket refused: {head!r}")

    def _receive(self) -> None:
        chunk = self.socket.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed; unread: {self.buffer!r}")
        self.buffer += chunk

    def type(self, *lines: str) -> None:
        self.socket.sendall(b"".join(frame(line.encode("utf-8")) for line in lines))

    def readLine(self) -> str:
        """
        The next text frame's text; fails after the socket's time-out.
        """
        while True:
            size = _firstFrameSize(self.buffer)
            if size is not None:
                (opcode, payload), = frames(self.buffer[:size])
                self.buffer = self.buffer[size:]
                if opcode == TEXT:
                    return payload.decode("utf-8")
            else:
                self._receive()


def _firstFrameSize(data: bytes) -> int | None:
    """
    How many bytes the first of the server's frames in C{data} takes, or
    C{None} if it has not all arrived.
    """
    if len(data) < 2:
        return None
    size, head = data[1] & 0x7F, 2
    if size >= 126:
        head = 4 if size == 126 else 10
        if len(data) < head:
            return None
        size = int.from_bytes(data[2:head], "big")
    return head + size if len(data) >= head + size else None
