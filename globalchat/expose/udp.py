# -*- test-case-name: tests.test_expose_udp -*-
"""
One UDP request, retransmitted until a matching answer or a deadline.

PCP, NAT-PMP and STUN all work the same way: send a small datagram to one
host, resend it on a schedule because UDP loses packets, and take the
first reply that parses.  This module is that loop, written once.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IReactorUDP
from twisted.internet.protocol import DatagramProtocol

from globalchat.expose.mapping import GatewayTimeout, MappingError

T = TypeVar("T")

#: Default retransmission delays in seconds: RFC 6886 starts at 250 ms and
#: doubles; we stop well before its 64 s so start-up never waits long.
DEFAULT_DELAYS: Sequence[float] = (0.25, 0.5, 1.0, 2.0)

#: No reply we accept is anywhere near this large; C{accept} is given at
#: most one byte more.
MAX_DATAGRAM = 2048


class _Exchange(DatagramProtocol):
    noisy = False

    def __init__(
        self,
        reactor: IReactorTime,
        build: Callable[[str], bytes],
        accept: Callable[[bytes], T | None],
        delays: Sequence[float],
        what: str,
        host: str,
        port: int,
    ) -> None:
        self._reactor = reactor
        self._build = build
        self._accept = accept
        self._delays = list(delays)
        self._what = what
        self._peer = (host, port)
        self._call = None
        self._payload = b""
        self._closed = False
        self.result: Deferred[T] = Deferred()

    def startProtocol(self) -> None:
        self.transport.connect(*self._peer)
        self._payload = self._build(self.transport.getHost().host)
        self._send()

    def _send(self) -> None:
        if not self._delays:
            self._finish(
                GatewayTimeout(f"{self._what}: no answer from {self._peer[0]}")
            )
            return
        self.transport.write(self._payload)
        if not self.result.called:  # A refusal may have ended it already.
            self._call = self._reactor.callLater(self._delays.pop(0), self._send)

    def datagramReceived(self, data: bytes, addr: object) -> None:
        if self.result.called:
            return
        try:
            value = self._accept(data)
        except MappingError as e:
            self._finish(e)
            return
        if value is not None:
            self._finish(value)

    def connectionRefused(self) -> None:
        self._finish(
            MappingError(
                f"{self._what}: {self._peer[0]} does not offer it (port closed)"
            )
        )

    def stopProtocol(self) -> None:
        # With epoll, the ICMP "port unreachable" that a connected UDP
        # socket receives looks like a hang-up, and the reactor closes the
        # port without calling connectionRefused: same meaning.
        self._closed = True
        self.connectionRefused()

    def _finish(self, value: object) -> None:
        if self.result.called:
            return
        if self._call is not None and self._call.active():
            self._call.cancel()
        if not self._closed:
            self.transport.stopListening()
        if isinstance(value, Exception):
            self.result.errback(value)
        else:
            self.result.callback(value)


def request(
    reactor: IReactorUDP,
    host: str,
    port: int,
    build: Callable[[str], bytes],
    accept: Callable[[bytes], T | None],
    what: str,
    delays: Sequence[float] = DEFAULT_DELAYS,
) -> Deferred[T]:
    """
    Send C{build(localAddress)} to C{host:port} and resend it after each of
    C{delays}, until C{accept(reply)} returns something other than C{None}.

    @param build: makes the datagram; it is given the local address the
        kernel picked to reach C{host}, which PCP must put in its request.
    @param accept: parses a reply; it returns C{None} for a datagram that is
        not the answer (wrong opcode, stale transaction) and raises
        L{MappingError} for an answer that is a refusal.
    @param what: names the protocol in error messages.
    @param host: an IP address (resolve names first).

    @return: fires with C{accept}'s value, or fails with L{GatewayTimeout}
        once the last delay has passed, or with L{MappingError} when the
        host answers with ICMP port unreachable.
    """
    exchange = _Exchange(reactor, build, accept, delays, what, host, port)
    interface = "::" if ":" in host else ""
    # One byte more than any reply we accept, so that a parser can tell an
    # oversized reply from one that fits.
    reactor.listenUDP(0, exchange, interface=interface, maxPacketSize=MAX_DATAGRAM + 1)
    return exchange.result
