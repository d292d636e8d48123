# -*- test-case-name: tests.test_expose_path -*-
"""
Is there a second NAT?  Ask the path, not the router.

A router behind a carrier-grade NAT may still grant mappings and, having
learned it by STUN, report the carrier's public address as its own; only
the routers along the way tell the truth.  Like C{traceroute}, three UDP
datagrams go towards a public address with a time-to-live of 1, 2 and 3;
the routers where they expire answer with ICMP "time exceeded", and the
one that is the destination with "port unreachable".  On Linux an
ordinary socket with C{IP_RECVERR} receives those answers on its error
queue (C{MSG_ERRQUEUE}): no raw socket, no privilege.  The first router to
answer is the home gateway; a router after it with a private or shared
(100.64.0.0/10) address is a second NAT.

Nothing but those three small datagrams is sent, and with a time-to-live
of at most 3 they die a few routers out, long before the target.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from dataclasses import dataclass
from typing import Callable

from twisted.internet.defer import Deferred, ensureDeferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import deferLater

from globalchat.expose import nat

#: Where the datagrams are aimed when nothing else is given: a well-known
#: public address.  With their short time-to-live they never reach it.
DEFAULT_TARGET = "1.1.1.1"

#: How many routers out to look: the home gateway, and two beyond it.
MAX_HOPS = 3

#: The port of the datagram with time-to-live 1 (the next get 2, 3):
#: traceroute's, where nothing listens.
BASE_PORT = 33434

#: How long to wait for the answers, and how often to look for them.
TIMEOUT = 1.0
POLL_INTERVAL = 0.05

PAYLOAD = b"globalchat path check"

# Linux's values; Python names only some of them.
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
_ORIGIN_ICMP = 2
_TIME_EXCEEDED = 11
_EXTENDED_ERROR = struct.Struct("=IBBBBII")
_OFFENDER = struct.Struct("=H2x4s")


@dataclass(frozen=True)
class Path:
    """
    What the routers towards C{target} said.

    @ivar hops: for time-to-live 1, 2, ...: the address of the router that
        answered, or C{None} when none did.
    @ivar reached: whether the last answering hop is the end of the path
        (the target, or a router saying it cannot go further).
    @ivar skipped: why the check could not run, or C{None} when it ran.
    """

    target: str
    hops: tuple[str | None, ...] = ()
    reached: bool = False
    skipped: str | None = None

    def describe(self) -> str:
        """
        The hops in one phrase, for logs and the doctor.
        """
        shown = ", ".join(hop or "*" for hop in self.hops)
        return f"path towards {self.target}: {shown or 'no answer'}"


def parseTarget(text: str) -> str:
    """
    Read the address to aim the datagrams at (C{--path-target}).

    @raise ValueError: with a message naming the value.
    """
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        raise ValueError(f"expected an IPv4 address, not {text!r}") from None


def secondNat(path: Path) -> tuple[int, str] | None:
    """
    The hop number and address of the first router after the home gateway
    whose address is private or shared, before any public one.

    The first router to answer is taken as the home gateway: a gateway
    that is itself public means no NAT at home at all.  Past the first
    public router, private addresses are the provider's own routers, not
    a NAT we are behind.
    """
    answered = [(number, hop) for number, hop in enumerate(path.hops, 1) if hop is not None]
    if not answered or nat.classify(answered[0][1]) == nat.PUBLIC:
        return None
    for number, hop in answered[1:]:
        kind = nat.classify(hop)
        if kind in (nat.PRIVATE, nat.SHARED):
            return number, hop
        if kind == nat.PUBLIC:
            return None
    return None


def parseError(level: int, kind: int, data: bytes) -> tuple[str, bool] | None:
    """
    Read one C{IP_RECVERR} control message.

    @return: the address of the router that answered and whether it is
        the end of the path (anything but "time exceeded"), or C{None} for
        a message that is not an ICMP answer.
    """
    if level != socket.IPPROTO_IP or kind != IP_RECVERR:
        return None
    if len(data) < _EXTENDED_ERROR.size + _OFFENDER.size:
        return None
    _, origin, icmpType, _, _, _, _ = _EXTENDED_ERROR.unpack_from(data)
    family, raw = _OFFENDER.unpack_from(data, _EXTENDED_ERROR.size)
    if origin != _ORIGIN_ICMP or family != socket.AF_INET:
        return None
    return socket.inet_ntoa(raw), icmpType != _TIME_EXCEEDED


def _answer(probe: socket.socket) -> tuple[str, bool] | None:
    try:
        _, ancillary, _, _ = probe.recvmsg(512, 512, socket.MSG_ERRQUEUE)
    except BlockingIOError:
        return None
    for level, kind, data in ancillary:
        found = parseError(level, kind, data)
        if found is not None:
            return found
    return None


def _send(target: str, hops: int) -> list[socket.socket]:
    # One socket per time-to-live, so each answer says which hop it is.
    probes = []
    try:
        for ttl in range(1, hops + 1):
            probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            probes.append(probe)
            probe.setblocking(False)
            probe.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
            probe.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            probe.sendto(PAYLOAD, (target, BASE_PORT + ttl - 1))
    except OSError:
        for probe in probes:
            probe.close()
        raise
    return probes


async def tracePath(reactor: IReactorTime, target: str = DEFAULT_TARGET,
                    hops: int = MAX_HOPS, timeout: float = TIMEOUT,
                    platform: str = sys.platform) -> Path:
    """
    Send the datagrams towards C{target} and collect the answers for at
    most C{timeout} seconds (less when the path has ended).

    @return: the path; its C{skipped} says why when the platform has no
        unprivileged way to read ICMP errors or there is no route.
    """
    if platform != "linux" or not hasattr(socket, "MSG_ERRQUEUE"):
        return Path(target, skipped="it needs Linux (IP_RECVERR) to read the routers' answers")
    try:
        probes = _send(target, hops)
    except OSError as e:
        return Path(target, skipped=f"cannot send towards {target} ({e.strerror or e})")
    answers: list[tuple[str, bool] | None] = [None] * hops
    try:
        waited = 0.0
        while waited < timeout and not _complete(answers):
            await deferLater(reactor, POLL_INTERVAL, lambda: None)
            waited += POLL_INTERVAL
            for number, probe in enumerate(probes):
                answers[number] = answers[number] or _answer(probe)
    finally:
        for probe in probes:
            probe.close()
    return _path(target, answers)


def _complete(answers: list[tuple[str, bool] | None]) -> bool:
    # Every hop up to the end of the path has answered.
    for answer in answers:
        if answer is None:
            return False
        if answer[1]:
            return True
    return True


def _path(target: str, answers: list[tuple[str, bool] | None]) -> Path:
    hops: list[str | None] = []
    for answer in answers:
        hops.append(answer[0] if answer else None)
        if answer and answer[1]:
            return Path(target, tuple(hops), reached=True)
    return Path(target, tuple(hops))


def pathChecker(reactor: IReactorTime, target: str) -> Callable[[], Deferred[Path]]:
    """
    The check as a function of no arguments, as the port mapper and the
    doctor take it (and tests replace it).
    """
    return lambda: ensureDeferred(tracePath(reactor, target))
