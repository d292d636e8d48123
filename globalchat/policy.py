# -*- test-case-name: tests.test_policy -*-
"""
Who may connect, how often, and how much: the rules that keep a server on
an open internet port usable when someone misbehaves.

Everything here is bookkeeping over addresses and times passed in by the
caller, so every rule is tested with a L{twisted.internet.task.Clock}
and no sockets.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict, deque
from dataclasses import dataclass, field

from twisted.internet.interfaces import IReactorTime

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


#: Where IPv4 addresses live in IPv6 when a dual-stack socket accepts them.
_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def parseNetwork(text: str) -> list[Network]:
    """
    Read a C{--allow}/C{--deny} value: an address or a CIDR network.

    A rule written for IPv4-mapped addresses (C{::ffff:127.0.0.1}, as a
    dual-stack port logs IPv4 clients) is the IPv4 rule it means, since
    peers are compared as IPv4; a network that holds all of them (C{::/0})
    holds every IPv4 address too.

    @return: the networks the rule covers.
    @raise ValueError: with a message naming the value.
    """
    try:
        network = ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR network: {text!r}") from None
    if network.version == 4:
        return [network]
    if network.subnet_of(_MAPPED):
        return [ipaddress.IPv4Network((int(network.network_address) & 0xFFFFFFFF,
                                       network.prefixlen - 96))]
    if network.supernet_of(_MAPPED):
        return [network, ipaddress.IPv4Network("0.0.0.0/0")]
    return [network]


def parseRate(text: str) -> float:
    """
    Read a C{--rate} value such as C{10/s}, C{600/min} or C{5}: lines per
    second.

    @raise ValueError: with a message naming the value.
    """
    number, _, unit = text.strip().partition("/")
    seconds = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}.get(unit.strip().lower())
    try:
        rate = float(number) / seconds if seconds else -1.0
    except ValueError:
        rate = -1.0
    if not rate > 0:
        raise ValueError(f"not a rate like 10/s or 600/min: {text!r}")
    return rate


def hostAddress(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """
    The address of a peer's host as it is compared with rules: IPv4 for
    an IPv4-mapped address; C{None} when it is no IP address.
    """
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; rules
        # are written for the IPv4 address.
        return address.ipv4_mapped
    return address


class TokenBucket:
    """
    Allows C{burst} lines at once and C{rate} lines a second on average.
    """

    __slots__ = ("_rate", "_burst", "_tokens", "stamp")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._rate = rate
        self._burst = burst
        self._tokens = burst
        self.stamp = now

    def take(self, now: float) -> bool:
        """
        Spend one token if there is one.
        """
        self._tokens = min(self._burst, self._tokens + (now - self.stamp) * self._rate)
        self.stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class Limits:
    """
    The configured limits; C{None} means no limit.  The defaults are what
    C{twistd globalchat} uses (README, Security).

    @ivar rate: lines a second a connection may send on average...
    @ivar burst: ...and at once.
    @ivar floodLimit: dropped lines within C{floodWindow} seconds after
        which a connection is cut off for flooding.
    @ivar loginTimeout: seconds a connection has to give an acceptable name.
    @ivar idleTimeout: seconds of silence after which a connection is
        closed, or C{None}.
    @ivar maxSendBuffer: bytes waiting for a client that stopped reading,
        beyond what the kernel and Twisted buffer, before it is dropped...
    @ivar ipv6Prefix: IPv6 clients are counted, limited and banned by
        network of this prefix length: one subscriber usually holds a whole
        /64, so counting single addresses would let one person look like
        millions.
    @ivar connectRate: new connections a second one address may open on
        average (each costs a socket, a session and log lines)...
    @ivar connectBurst: ...and at once.
    @ivar slowGrace: ...once it has not caught up for this many seconds.
        A client that reads is paused too, for an instant, whenever a
        large batch is written to it at once: up to C{slowGrace} seconds,
        it may be owed C{SLOW_HARD_LIMIT} times C{maxSendBuffer}.
    """

    allow: list[Network] = field(default_factory=list)
    deny: list[Network] = field(default_factory=list)
    maxConnections: int | None = 1000
    maxPerIP: int | None = 20
    rate: float = 10.0
    burst: float = 30.0
    floodLimit: int = 30
    floodWindow: float = 10.0
    loginTimeout: float = 30.0
    idleTimeout: float | None = None
    maxSendBuffer: int = 1024 * 1024
    slowGrace: float = 1.0
    banThreshold: int = 3
    banWindow: float = 600.0
    banTime: float = 3600.0
    ipv6Prefix: int = 64
    connectRate: float = 5.0
    connectBurst: float = 20.0


#: Addresses whose connection rate is tracked before quiet ones are forgotten.
MAX_TRACKED = 10_000


class Refusal(str):
    """
    Why a connection is refused, as the log and the client read it, with
    the C{rule} that refused it (deny, allow, ban, connect-rate,
    max-connections, per-ip): the text carries numbers, the rule is what refusals are
    counted under.
    """

    rule: str

    def __new__(cls, text: str, rule: str) -> Refusal:
        refusal = super().__new__(cls, text)
        refusal.rule = rule
        return refusal


class Gatekeeper:
    """
    Admission control: allow/deny lists, connection counts and bans.
    """

    def __init__(self, clock: IReactorTime, limits: Limits) -> None:
        self._clock = clock
        self.limits = limits
        self._perIP: dict[str, int] = defaultdict(int)
        self._total = 0
        self._strikes: dict[str, deque[float]] = {}
        self._bannedUntil: dict[str, float] = {}
        #: New connections, by address key.
        self._connects: dict[str, TokenBucket] = {}

    def key(self, host: str) -> str:
        """
        What connections from C{host} are counted and banned under: the
        address, or for IPv6 its network of C{ipv6Prefix} bits.
        """
        address = hostAddress(host)
        if address is None:
            return host
        if address.version == 6 and self.limits.ipv6Prefix < 128:
            return str(ipaddress.IPv6Network((address, self.limits.ipv6Prefix), strict=False))
        return str(address)

    def screen(self, host: str) -> Refusal | None:
        """
        Decide, before reading a byte, whether C{host} may connect at all.

        @return: why it is refused, or C{None}.
        """
        address = hostAddress(host)
        if address is None:
            return None  # Not an IP connection (a Unix socket): local.
        if any(address in n for n in self.limits.deny if n.version == address.version):
            return Refusal("denied by --deny", "deny")
        if self.limits.allow and not any(
            address in n for n in self.limits.allow if n.version == address.version
        ):
            return Refusal("not in --allow", "allow")
        key = self.key(host)
        now = self._clock.seconds()
        until = self._bannedUntil.get(key)
        if until is not None:
            if now < until:
                return Refusal("banned", "ban")
            del self._bannedUntil[key]
        if len(self._connects) > MAX_TRACKED:
            # Addresses that have been quiet long enough have full buckets:
            # forgetting them changes nothing.
            full = self.limits.connectBurst / self.limits.connectRate
            self._connects = {k: b for k, b in self._connects.items() if now - b.stamp < full}
        bucket = self._connects.get(key)
        if bucket is None:
            bucket = self._connects[key] = TokenBucket(self.limits.connectRate,
                                                       self.limits.connectBurst, now)
        if not bucket.take(now):
            return Refusal(f"connecting too often (at most {self.limits.connectRate:g} a second)",
                           "connect-rate")
        return None

    def admit(self, host: str) -> Refusal | None:
        """
        Count a connection from C{host} against the limits.

        @return: the refusal line's reason if over a limit (then it is not
            counted), or C{None} once counted; L{release} it later.
        """
        key = self.key(host)
        if self.limits.maxConnections is not None and self._total >= self.limits.maxConnections:
            return Refusal(f"server full: at most {self.limits.maxConnections} connections at "
                           "once", "max-connections")
        if self.limits.maxPerIP is not None and self._perIP[key] >= self.limits.maxPerIP:
            return Refusal(f"too many connections from your address (max "
                           f"{self.limits.maxPerIP})", "per-ip")
        self._total += 1
        self._perIP[key] += 1
        return None

    def release(self, host: str) -> None:
        """
        A connection counted by L{admit} ended.
        """
        key = self.key(host)
        self._total -= 1
        self._perIP[key] -= 1
        if not self._perIP[key]:
            del self._perIP[key]

    def strike(self, host: str) -> bool:
        """
        Record a failed login or an abuse cut-off from C{host}.

        @return: whether this strike banned the address for C{banTime}.
        """
        key = self.key(host)
        now = self._clock.seconds()
        strikes = self._strikes.setdefault(key, deque())
        strikes.append(now)
        while strikes and strikes[0] <= now - self.limits.banWindow:
            strikes.popleft()
        if len(strikes) >= self.limits.banThreshold:
            del self._strikes[key]
            self._bannedUntil[key] = now + self.limits.banTime
            return True
        return False
