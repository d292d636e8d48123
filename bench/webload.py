"""
Browsers beside terminals: the same fan-out and idle measures through
globalchat's WebSocket (C{--web}), with the line port's clients in the
same room and the same run, so that each kind's figures are comparable.
"""

from __future__ import annotations

import dataclasses
import struct
import time

from bench.loadgen import Client, Outcome, Tally, drive
from bench.scenarios import BIG_SEND_BUFFER, Row, Scenario, Sizes, _names, _percentile, _plans
from bench.servers import Peer, cpuSeconds, freePort, rss, running
from bench.wire import Dialect

#: The handshake every client sends (no Origin: not a browser).
HANDSHAKE = (b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n")


def frame(line: bytes) -> bytes:
    """
    One line as a client's text frame.  Clients must mask; a mask of
    zeros leaves the payload as it is, which spares the generator the
    work (the server unmasks either way).
    """
    line = line.rstrip(b"\r\n")
    size = len(line)
    head = struct.pack("!BB", 0x81, 0x80 | size) if size < 126 else struct.pack(
        "!BBH", 0x81, 0x80 | 126, size)
    return head + b"\0\0\0\0" + line


class WebClient(Client):
    """
    A L{Client} on the web port: the same checks, one line per frame.
    """

    def __init__(self, name: str, dialect: Dialect, expect: int, probe: bool) -> None:
        framed = dataclasses.replace(dialect, say=lambda text: frame(dialect.say(text)))
        super().__init__(name, framed, expect, probe)
        self.pending = b""
        self.open = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(HANDSHAKE)

    def data_received(self, data: bytes) -> None:
        data = self.pending + data
        if not self.open:
            head, found, data = data.partition(b"\r\n\r\n")
            if not found:
                self.pending = head
                return
            self.open = True
            self.transport.write(frame(self.dialect.login(self.name)))
        lines = []
        while len(data) >= 2:
            size, at = data[1] & 0x7F, 2
            if size == 126:
                if len(data) < 4:
                    break
                size, at = struct.unpack("!H", data[2:4])[0], 4
            if len(data) < at + size:
                break
            if data[0] & 0x0F == 1:
                lines.append(data[at:at + size])
            data = data[at + size:]
        self.pending = data
        if lines:
            super().data_received(b"\n".join(lines) + b"\n")


def _withWeb(peer: Peer, webPort: int) -> Peer:
    return dataclasses.replace(peer, command=lambda port, scratch, buffer: [
        *peer.command(port, scratch, buffer), "--web", f"tcp:{webPort}:interface=127.0.0.1"])


KINDS = (("TCP", "t"), ("WebSocket", "w"))


def _fanOut(peer: Peer, size: dict) -> tuple[Outcome, float, int]:
    """
    C{size["clients"]} of each kind in one room, half of the senders of
    each kind, every line written at once.
    """
    clients, senders, lines = size["clients"], size["senders"] // 2, size["lines"]
    webPort = freePort()
    talkers = _names("s", 2 * senders)
    names = {kind: talkers[i * senders:(i + 1) * senders] + _names(prefix, clients - senders)
             for i, (kind, prefix) in enumerate(KINDS)}
    with running(_withWeb(peer, webPort), BIG_SEND_BUFFER) as server:
        plans = []
        for kind, _ in KINDS:
            plans += _plans(server.port, peer, names[kind], 1, senders=talkers, lines=lines,
                            probe=True, label=kind, webPort=webPort,
                            web=frozenset(names["WebSocket"]), runLimit=90.0,
                            loginLimit=30.0, stall=size["stall"])
        cpu = []
        outcome = drive(plans, whenReady=lambda joined: cpu.append(cpuSeconds(server.process.pid)),
                        beforeRelease=lambda: cpu.append(cpuSeconds(server.process.pid)))
    return outcome, cpu[1] - cpu[0] if len(cpu) == 2 else float("nan"), 2 * senders * lines


def _idle(peer: Peer, kind: str, count: int) -> float:
    """
    Server memory per logged-in, silent connection of C{kind}, in KB.
    """
    webPort = freePort()
    names = frozenset(_names("i", count))
    with running(_withWeb(peer, webPort), BIG_SEND_BUFFER) as server:
        before = rss(server.process.pid)
        measured = []

        def ready(joined: int) -> None:
            time.sleep(2)  # let the joins' output drain before reading memory
            measured.append((rss(server.process.pid) - before) / 1024 / max(joined, 1))

        drive(_plans(server.port, peer, sorted(names), 1, webPort=webPort, runLimit=0.0,
                     web=names if kind == "WebSocket" else frozenset(), loginLimit=30.0),
              whenReady=ready)
    return measured[0] if measured else float("nan")


def webBeside(peer: Peer, size: dict) -> list[Row]:
    """
    Scenario 7: WebSocket clients beside TCP clients in one room, one
    burst; each kind's deliveries a second and latency, and what an idle
    connection of each kind costs.
    """
    if peer.dialect != "globalchat":
        return []
    outcome, cpu, sent = _fanOut(peer, size)
    rows = []
    for kind, _ in KINDS:
        tally = sum((t for t in outcome.parts if t.label == kind), Tally())
        seconds = max(tally.lastAt - outcome.goAt, 1e-9)
        rows.append({"kind": kind, "clients": size["clients"],
                     "deliveries/s": tally.received / seconds if tally.received else 0.0,
                     "p99 ms": _percentile(tally.latencies, 0.99) * 1000,
                     "lost": max(0, size["clients"] * sent - tally.received - tally.corrupted),
                     "corrupted": tally.corrupted, "dropped": tally.dropped,
                     "server CPU s": cpu, "idle KB/conn": _idle(peer, kind, size["idle"])})
    return rows


SCENARIO = Scenario("web", "7. WebSocket beside TCP (one room)", webBeside, Sizes(
    full=dict(clients=100, senders=10, lines=1000, idle=1000, stall=5.0),
    smoke=dict(clients=5, senders=2, lines=20, idle=20, stall=1.0)))
