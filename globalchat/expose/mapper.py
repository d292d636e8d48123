# -*- test-case-name: tests.test_expose_mapper -*-
"""
C{--expose}: keep a port forwarded on the gateway for as long as the
server runs, and tell the user in one line how a friend connects.

The protocols are tried in the order that costs least when they fail:
PCP and NAT-PMP are one UDP exchange with the gateway, UPnP needs a
multicast search and HTTP.  A mapping is renewed at half its lifetime;
a renewal is also how a gateway that restarted and forgot it is noticed
(its epoch went backwards, or the UPnP entry is gone) and the mapping is
made again.  On a clean stop every mapping is deleted, within a short
time so that a dead gateway cannot hold up shutdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, DeferredLock, ensureDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.logger import Logger

from globalchat.expose import nat, verdict
from globalchat.expose.mapping import GatewayTimeout, IPortMapper, Mapping, MappingError
from globalchat.expose.path import Path
from globalchat.expose.reachability import Ask, Reachability

#: How long a mapping is asked for, by default: an hour, so that a server
#: that dies without cleaning up leaves nothing open for long.
DEFAULT_LEASE = 3600

#: A failed renewal is tried again this soon (or at the lease's end).
RETRY_DELAY = 60

#: At shutdown, mappings are deleted within this many seconds or left to
#: expire.
STOP_TIMEOUT = 3.0

#: A way to reach the gateway: a name for messages and a function giving
#: (perhaps after discovery) the protocol client.
Method = tuple[str, Callable[[], Deferred[IPortMapper]]]


def gatewayMethods(reactor, gateway: str) -> list[Method]:
    """
    PCP, then NAT-PMP, then UPnP IGD, for C{gateway}.
    """
    from globalchat.expose import natpmp, pcp, upnp

    return [
        ("PCP", lambda: succeed(pcp.PcpMapper(reactor, gateway))),
        ("NAT-PMP", lambda: succeed(natpmp.NatPmpMapper(reactor, gateway))),
        ("UPnP", lambda: upnp.discover(reactor)),
    ]


def pinholeMethods(reactor, gateway: str) -> list[Method]:
    """
    For IPv6 there is no NAT, only the router's firewall: PCP's MAP opens
    a pinhole in it (UPnP's WANIPv6FirewallControl is rarely enabled).
    """
    from globalchat.expose import pcp

    return [("PCP", lambda: succeed(pcp.PcpMapper(reactor, gateway)))]


def gatewayRestarted(previous: Mapping, current: Mapping, elapsed: float) -> bool:
    """
    Whether the gateway's epoch shows it restarted between two replies
    (RFC 6886 section 3.6, RFC 6887 section 8.5): its clock must have
    advanced by at least 7/8 of ours, less two seconds of slack.
    """
    if previous.epoch is None or current.epoch is None:
        return False
    return current.epoch < previous.epoch + elapsed * 7 / 8 - 2


@dataclass(frozen=True)
class Target:
    """
    A listening port to make reachable.

    @ivar port: the local TCP port.
    @ivar fingerprint: the TLS certificate's fingerprint, for the line
        handed to friends, or C{None} for plain TCP.
    @ivar ipv6: whether this is an IPv6 port, to open a pinhole for
        rather than a NAT mapping.
    @ivar web: whether this is a C{--web} port, opened in a browser.
    """

    port: int
    fingerprint: str | None = None
    ipv6: bool = False
    web: bool = False


class _Lease:
    """
    One mapping kept alive.
    """

    def __init__(self, target: Target, method: str, mapper: IPortMapper,
                 mapping: Mapping, grantedAt: float) -> None:
        self.target = target
        self.method = method
        self.mapper = mapper
        self.mapping = mapping
        self.grantedAt = grantedAt
        self.renewal: IDelayedCall | None = None


class PortMapperService(Service):
    """
    Maps every L{Target} handed to L{expose} on the gateway and keeps the
    mappings alive while the service runs.

    @ivar leases: the mappings currently held.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        methods: Sequence[Method],
        lease: int = DEFAULT_LEASE,
        stun: Callable[[], Deferred[tuple[str, int] | None]] | None = None,
        stopTimeout: float = STOP_TIMEOUT,
        pinholes: Sequence[Method] = (),
        verify: Sequence[tuple[str, int]] = (),
        path: Callable[[], Deferred[Path]] | None = None,
        ipv6: Callable[[], Sequence[str]] = lambda: (),
        ask: Ask | None = None,
    ) -> None:
        """
        @param methods: the protocols to try, in order; empty when there is
            no gateway (then every target is reported as not exposed).
        @param pinholes: the protocols that open IPv6 pinholes, for IPv6
            targets; empty when there is no IPv6 gateway.
        @param stun: asks STUN servers for our public address, if any were
            configured.
        @param verify: C{--verify-via} helpers, asked to connect back after
            each mapping and renewal.
        @param path: looks for a second NAT on the path out.
        @param ipv6: this machine's global IPv6 addresses, for the advice
            given when the router cannot help.
        @param ask: asks one helper to connect back (default: the probe
            client).
        """
        self._reactor = reactor
        self._methods = list(methods)
        self._pinholes = list(pinholes)
        self._lease = lease
        self._reachability = Reachability(reactor, stun=stun, path=path, helpers=verify,
                                          ask=ask, ipv6=ipv6)
        self._ipv6 = ipv6
        self._stopTimeout = stopTimeout
        self._waiting: list[Target] = []
        self._lock = DeferredLock()
        self._mappers: dict[str, IPortMapper] = {}
        self._unavailable: dict[str, str] = {}
        self.leases: list[_Lease] = []

    @property
    def publicAddress(self) -> str | None:
        """
        The public address friends connect to, once a mapping's verdict
        gave one (L{Reachability}).
        """
        return self._reachability.publicAddress

    def expose(self, target: Target) -> None:
        """
        Map C{target} now if running, or once the service starts.
        """
        if self.running:
            self._lock.run(lambda: ensureDeferred(self._expose(target)))
        else:
            self._waiting.append(target)

    def startService(self) -> None:
        super().startService()
        waiting, self._waiting = self._waiting, []
        for target in waiting:
            self.expose(target)

    async def _mapper(self, name: str, make: Callable[[], Deferred[IPortMapper]]) -> IPortMapper:
        # Discovery (UPnP's multicast search) happens once for all targets;
        # targets are mapped one at a time, so a plain cache will do.
        if name not in self._mappers:
            self._mappers[name] = await make()
        return self._mappers[name]

    async def _expose(self, target: Target) -> None:
        methods = self._pinholes if target.ipv6 else self._methods
        family = "IPv6 " if target.ipv6 else ""
        if not methods:
            self.log.warn(
                "not exposed: {family}port {port}: this machine has no {family}default "
                "gateway (give one with --gateway)", port=target.port, family=family,
            )
            return
        reasons = []
        for name, make in methods:
            key = family + name
            if key in self._unavailable:
                reasons.append(self._unavailable[key])
                continue
            try:
                mapper = await self._mapper(key, make)
                mapping = await mapper.addMapping(target.port, target.port, self._lease)
            except MappingError as e:
                reasons.append(str(e))
                if isinstance(e, GatewayTimeout):
                    # It will not answer for the next port either.
                    self._unavailable[key] = str(e)
                continue
            lease = _Lease(target, name, mapper, mapping, self._reactor.seconds())
            if not self.running:
                await self._delete(lease)
                return
            self.leases.append(lease)
            self._schedule(lease, mapping.lifetime)
            self._announce(lease)
            await self._report(lease)
            return
        fix = (f"Allow incoming TCP port {target.port} to this machine in your router's "
               "IPv6 firewall" if target.ipv6 else
               f"Forward TCP port {target.port} to this machine on your router by hand")
        found = () if target.ipv6 else await self._reachability.otherNat()
        if found:
            self.log.warn(
                "not exposed: port {port}: {reasons}. Besides, {behind}: {signals}; a mapping "
                "on this router could not make this server reachable anyway. Instead "
                "{alternatives}", port=target.port, reasons="; ".join(reasons),
                behind=verdict.behind(found), signals="; ".join(map(str, found)),
                alternatives=nat.alternatives(self._ipv6()),
            )
            return
        self.log.warn(
            "not exposed: {family}port {port}: {reasons}. {fix} (README: Going global), "
            "or run globalchat-doctor to see why",
            port=target.port, reasons="; ".join(reasons), family=family, fix=fix,
        )

    def _announce(self, lease: _Lease) -> None:
        mapping = lease.mapping
        self.log.info(
            "{method} mapped external port {external} to port {port} for {lifetime}",
            method=lease.method, external=mapping.externalPort, port=lease.target.port,
            lifetime=f"{mapping.lifetime} s" if mapping.lifetime else "as long as the server runs",
        )

    async def _report(self, lease: _Lease) -> None:
        # The gateway's word on its address is only one witness; the
        # verdict, and whether to log it again, is Reachability's.
        mapping = lease.mapping
        address = mapping.externalAddress
        if address is None:
            try:
                address = await lease.mapper.externalAddress()
            except MappingError as e:
                self.log.warn("the gateway did not tell its external address: {reason}", reason=str(e))
        await self._reachability.mapped(lease, address, mapping.externalPort,
                                        lease.target.fingerprint, lease.target.ipv6,
                                        lease.target.web)

    def _schedule(self, lease: _Lease, lifetime: int) -> None:
        # A permanent (lifetime 0) mapping is still checked, at the rate a
        # leased one would be renewed, to notice a gateway that forgot it.
        delay = (lifetime or self._lease) / 2
        lease.renewal = self._reactor.callLater(
            delay, lambda: ensureDeferred(self._renew(lease))
        )

    async def _renew(self, lease: _Lease) -> None:
        lease.renewal = None
        previous = lease.mapping
        elapsed = self._reactor.seconds() - lease.grantedAt
        try:
            hasMapping = getattr(lease.mapper, "hasMapping", None)
            forgotten = hasMapping is not None and not await hasMapping(previous)
            mapping = await lease.mapper.addMapping(
                lease.target.port, previous.externalPort, self._lease
            )
        except MappingError as e:
            self.log.warn(
                "renewing the mapping of port {port} failed, trying again in "
                "{delay} s: {reason}", port=lease.target.port, delay=RETRY_DELAY, reason=str(e),
            )
            if self.running:
                lease.renewal = self._reactor.callLater(
                    RETRY_DELAY, lambda: ensureDeferred(self._renew(lease))
                )
            return
        lease.mapping = mapping
        lease.grantedAt = self._reactor.seconds()
        if forgotten or gatewayRestarted(previous, mapping, elapsed):
            self.log.warn(
                "the gateway restarted and forgot the mapping of port {port}; mapped it again",
                port=lease.target.port,
            )
        if not self.running:
            return
        self._schedule(lease, mapping.lifetime)
        if mapping.externalPort != previous.externalPort:
            self._announce(lease)
        await self._report(lease)

    async def _delete(self, lease: _Lease) -> None:
        try:
            await lease.mapper.deleteMapping(lease.mapping).addTimeout(
                self._stopTimeout, self._reactor
            )
        except Exception as e:
            self.log.warn(
                "could not remove the mapping of port {port} ({reason}); it "
                "expires by itself", port=lease.target.port, reason=str(e) or repr(e),
            )
        else:
            self.log.info(
                "removed the {method} mapping of external port {external}",
                method=lease.method, external=lease.mapping.externalPort,
            )

    def stopService(self) -> Deferred:
        super().stopService()
        leases, self.leases = self.leases, []
        for lease in leases:
            self._reachability.forget(lease)
            if lease.renewal is not None and lease.renewal.active():
                lease.renewal.cancel()
        return DeferredList([ensureDeferred(self._delete(lease)) for lease in leases])
