# -*- test-case-name: tests.test_expose_udp -*-
"""
What every port-mapping protocol hands back, and how it says no.

PCP, NAT-PMP and UPnP IGD differ on the wire but the mapper that drives
them only needs to know which external port it got, for how long, and on
which address, so each protocol client speaks in terms of L{Mapping} and
L{MappingError}.
"""

from __future__ import annotations

from dataclasses import dataclass

from twisted.internet.defer import Deferred
from zope.interface import Attribute, Interface


@dataclass(frozen=True)
class Mapping:
    """
    A port forwarded by a gateway.

    @ivar method: the protocol that made it: C{"pcp"}, C{"nat-pmp"} or
        C{"upnp"}.
    @ivar internalPort: the local port the gateway forwards to.
    @ivar externalPort: the port the outside connects to; it may differ from
        the one asked for when the gateway had a conflict.
    @ivar externalAddress: the gateway's public address, when it said.
    @ivar lifetime: seconds granted; C{0} means permanent (UPnP gateways
        that only support permanent leases).
    @ivar epoch: the gateway's epoch (seconds since its start) when the
        mapping was granted, for PCP and NAT-PMP; a later epoch that went
        backwards means the gateway restarted and forgot the mapping.
    """

    method: str
    internalPort: int
    externalPort: int
    externalAddress: str | None
    lifetime: int
    epoch: int | None = None


class MappingError(Exception):
    """
    A gateway declined, failed or could not be reached.

    C{str()} of it is one line a user can act on, e.g. C{"NAT-PMP: the
    gateway refused (not authorized)"}.
    """


class GatewayTimeout(MappingError):
    """
    The gateway did not answer in time: most often it does not speak the
    protocol at all.
    """


class IPortMapper(Interface):
    """
    One gateway protocol able to forward a TCP port to this host.
    """

    method = Attribute("Short name used in logs: 'pcp', 'nat-pmp', 'upnp'.")

    def externalAddress() -> Deferred[str]:
        """
        Ask the gateway for its external address.
        """

    def addMapping(
        internalPort: int, externalPort: int, lifetime: int
    ) -> Deferred[Mapping]:
        """
        Ask for (or renew) a TCP mapping; fails with L{MappingError}.
        """

    def deleteMapping(mapping: Mapping) -> Deferred[None]:
        """
        Remove a mapping this mapper made.
        """
