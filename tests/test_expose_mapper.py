"""
Tests for L{globalchat.expose.mapper}: which protocol maps, what the user
is told, renewal, gateway restarts and clean-up, with fake gateways and a
L{Clock}.
"""

from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from globalchat.expose.mapper import (
    PortMapperService,
    Target,
    gatewayRestarted,
)
from globalchat.expose.mapping import GatewayTimeout, IPortMapper, Mapping, MappingError
from globalchat.expose.path import Path

FINGERPRINT = "SHA256:" + ":".join(["AB"] * 32)
HELPER = ("45.33.32.2", 12346)
GOOD = "PROBE OK Hello Good morning !!!! ::: globalchat-probe"
BAD = "PROBE FAILED 8.8.8.8:12345 refused the connection: nothing listens there"


def unconfirmed(address, port, fingerprint=None):
    """
    The line for a mapping nobody on the internet has confirmed yet.
    """
    tls = f" --tls --fingerprint {fingerprint}" if fingerprint else ""
    shown = f"[{address}]" if ":" in address else address
    return (f"mapped on the router at {shown}:{port} \N{EM DASH} friends connect with "
            f"globalchat-client {address} {port}{tls}; not confirmed from outside yet (add "
            "--verify-via HOST:PORT to have a helper on the internet check)")


@implementer(IPortMapper)
class FakeMapper:
    """
    A gateway protocol that answers from scripted results.

    @ivar results: what successive L{addMapping} calls give: a L{Mapping},
        an exception, or a L{Deferred}.
    """

    def __init__(self, method, results, address="8.8.4.4", present=None):
        self.method = method
        self.results = list(results)
        self.address = address
        self.present = present
        self.added = []
        self.deleted = []

    def externalAddress(self):
        if isinstance(self.address, Exception):
            return fail(self.address)
        return succeed(self.address)

    def addMapping(self, internalPort, externalPort, lifetime):
        self.added.append((internalPort, externalPort, lifetime))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            return fail(result)
        if isinstance(result, Deferred):
            return result
        return succeed(result)

    def deleteMapping(self, mapping):
        self.deleted.append(mapping)
        return succeed(None)


class UpnpLike(FakeMapper):
    """
    A fake with UPnP's C{hasMapping}.
    """

    def hasMapping(self, mapping):
        return succeed(self.present.pop(0))


def mapping(method="nat-pmp", external=12345, lifetime=3600, epoch=None, address=None):
    return Mapping(method, 12345, external, address, lifetime, epoch)


class MapperHarness:
    """
    A L{PortMapperService} on a L{Clock} with fake gateways and helper,
    and what it logged.
    """

    def setUp(self):
        self.clock = Clock()
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def service(self, *mappers, stun=None, lease=3600, answers=None, path=None,
                helpers=(HELPER,)):
        """
        A running service with C{mappers}; with C{answers}, the C{helpers}
        give them in turn (a string, or an exception to fail).
        """
        methods = [(m.method, lambda m=m: succeed(m)) for m in mappers]
        self.asked = []

        def ask(host, port, probed, tls):
            self.asked.append((host, port, probed, tls))
            answer = answers.pop(0)
            return fail(answer) if isinstance(answer, Exception) else succeed(answer)

        service = PortMapperService(
            self.clock, methods, lease=lease, stun=stun, verify=helpers if answers else (),
            ask=ask, path=None if path is None else lambda: succeed(path))
        service.startService()
        return service

    def messages(self):
        texts = [formatEvent(e) for e in self.events
                 if e.get("log_namespace", "").startswith("globalchat.expose")]
        self.events.clear()
        return texts


class MapperTests(MapperHarness, SynchronousTestCase):
    """
    L{PortMapperService} against fake protocol clients.
    """

    def test_fakeIsAPortMapper(self):
        """
        The fake provides L{IPortMapper}, so the tests exercise the real
        contract.
        """
        verifyObject(IPortMapper, FakeMapper("x", []))

    def test_firstMethodWins(self):
        """
        The first protocol that maps is used; the user is told the mapping
        is on the router, not that the server is reachable, with the line
        to hand to a friend (with the TLS fingerprint).
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        natpmp = FakeMapper("NAT-PMP", [])
        self.service(pcp, natpmp).expose(Target(12345, FINGERPRINT))
        self.assertEqual(pcp.added, [(12345, 12345, 3600)])
        self.assertEqual(natpmp.added, [])
        self.assertEqual(self.messages()[-1], unconfirmed("8.8.8.8", 12345, FINGERPRINT))

    def test_webPort(self):
        """
        For a --web port, the line to hand to a friend is the page to
        open in a browser.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", external=8443, address="8.8.8.8")])
        self.service(pcp).expose(Target(8443, FINGERPRINT, web=True))
        self.assertEqual(self.messages()[-1],
                         "mapped on the router at 8.8.8.8:8443 \N{EM DASH} friends connect with "
                         "a browser at https://8.8.8.8:8443/; not confirmed from outside "
                         "yet (add --verify-via HOST:PORT to have a helper on the internet check)")

    def test_fallsBackInOrder(self):
        """
        A refusal or a timeout moves on to the next protocol; the gateway's
        external address is asked for when the mapping reply lacks it.
        """
        pcp = FakeMapper("PCP", [MappingError("PCP: the gateway refused (NOT_AUTHORIZED)")])
        natpmp = FakeMapper("NAT-PMP", [GatewayTimeout("NAT-PMP: no answer from 10.0.0.1")])
        upnp = FakeMapper("UPnP", [mapping("upnp")], address="8.8.4.4")
        self.service(pcp, natpmp, upnp).expose(Target(12345))
        self.assertEqual(self.messages()[-1], unconfirmed("8.8.4.4", 12345))

    def test_conflictReportsOtherPort(self):
        """
        When the gateway gives another external port, that port is the one
        reported.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", external=40001, address="8.8.8.8")])
        self.service(pcp).expose(Target(12345))
        self.assertIn("8.8.8.8:40001", self.messages()[-1])

    def test_nothingWorks(self):
        """
        When every protocol fails the server says, in one line, that it is
        not exposed, why, and what to do.
        """
        pcp = FakeMapper("PCP", [MappingError("PCP: no")])
        upnp = FakeMapper("UPnP", [MappingError("UPnP: the gateway refused (606 Action not authorized)")])
        self.service(pcp, upnp).expose(Target(12345))
        [message] = self.messages()
        self.assertTrue(message.startswith("not exposed: port 12345: PCP: no; UPnP: "))
        self.assertIn("606", message)
        self.assertIn("globalchat-doctor", message)

    def test_noGateway(self):
        """
        Without a gateway the server says so and carries on.
        """
        self.service().expose(Target(12345))
        self.assertIn("no default gateway", self.messages()[0])

    def test_timeoutNotRepeatedPerPort(self):
        """
        A protocol that timed out for one port is not waited for again for
        the next.
        """
        pcp = FakeMapper("PCP", [GatewayTimeout("PCP: no answer")])
        natpmp = FakeMapper("NAT-PMP", [mapping(), mapping(external=443)])
        service = self.service(pcp, natpmp)
        service.expose(Target(12345))
        service.expose(Target(443))
        self.assertEqual(len(pcp.added), 1)
        self.assertEqual(len(natpmp.added), 2)

    def test_cgnat(self):
        """
        A mapping whose external address is carrier-grade NAT space is
        reported as not reachable, naming the signal, with the
        alternatives, and no friend line.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="100.64.3.4")])
        self.service(pcp).expose(Target(12345))
        last = self.messages()[-1]
        self.assertTrue(last.startswith(
            "mapped on the router at 100.64.3.4:12345, but not reachable from the internet: "
            "this network is behind carrier-grade NAT (your provider's): the router's external "
            "address 100.64.3.4 is in the carrier-grade NAT range 100.64.0.0/10 (the gateway's "
            "address). A mapping on this router cannot make this server reachable; instead "), last)
        self.assertIn("onion", last)
        self.assertNotIn("globalchat-client", last)

    def test_doubleNATSeenByStun(self):
        """
        A STUN server that sees another address than the gateway reports
        means a second NAT.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="8.8.8.8")])
        self.service(pcp, stun=lambda: succeed(("1.1.1.1", 4000))).expose(Target(12345))
        last = self.messages()[-1]
        self.assertIn("behind another NAT (double NAT): the router says its external address is "
                      "8.8.8.8 but a STUN server sees 1.1.1.1 (STUN mismatch)", last)
        self.assertNotIn("reachable at", last)

    def test_pathShowsCarrierNat(self):
        """
        A router that learned the carrier's public address (and agrees
        with STUN) is still caught by the path: the second router out has
        a shared address.  No friend line is given.
        """
        pcp = FakeMapper("PCP", [mapping("pcp", address="45.33.32.1")])
        path = Path("45.33.32.2", ("10.77.1.1", "100.64.0.1", "45.33.32.2"), reached=True)
        self.service(pcp, stun=lambda: succeed(("45.33.32.1", 4000)), path=path).expose(
            Target(12345))
        last = self.messages()[-1]
        self.assertIn("behind carrier-grade NAT (your provider's): router 2 on the way out, "
                      "100.64.0.1, is in the carrier-grade NAT range 100.64.0.0/10 (path hop)", last)
        self.assertNotIn("globalchat-client", last)

    def test_pathSkippedSaid(self):
        """
        Where the path cannot be looked at, the log says the check was
        skipped, once.
        """
        granted = mapping("pcp", address="8.8.8.8", lifetime=600)
        pcp = FakeMapper("PCP", [granted, granted])
        path = Path("1.1.1.1", skipped="it needs Linux (IP_RECVERR) to read the routers' answers")
        self.service(pcp, path=path, lease=600).expose(Target(12345))
        self.clock.advance(300)
        self.assertEqual(len(pcp.added), 2)
        self.assertEqual(self.messages(), [
            "PCP mapped external port 12345 to port 12345 for 600 s",
            "path check skipped: it needs Linux (IP_RECVERR) to read the routers' answers",
            unconfirmed("8.8.8.8", 12345),
        ])

    def test_notExposedBehindCarrierNat(self):
        """
        When the router refuses every mapping and the path shows a carrier
        NAT, the one line says that too: no setting at home would help.
        """
        pcp = FakeMapper("PCP", [MappingError("PCP: the gateway refused (NO_RESOURCES)")])
        path = Path("45.33.32.2", ("10.77.1.1", "100.64.0.1"), reached=True)
        self.service(pcp, path=path).expose(Target(12345))
        [message] = self.messages()
        self.assertTrue(message.startswith(
            "not exposed: port 12345: PCP: the gateway refused (NO_RESOURCES). Besides, this "
            "network is behind carrier-grade NAT (your provider's): router 2 on the way out, "
            "100.64.0.1, is in the carrier-grade NAT range 100.64.0.0/10 (path hop); a mapping "
            "on this router could not make this server reachable anyway. Instead "), message)

    def test_renewAtHalfLife(self):
        """
        The mapping is renewed at half its granted lifetime, asking for the
        port it has.
        """
        natpmp = FakeMapper("NAT-PMP", [mapping(external=40001, lifetime=600), mapping(external=40001, lifetime=600)])
        self.service(natpmp).expose(Target(12345))
        self.clock.advance(299)
        self.assertEqual(len(natpmp.added), 1)
        self.clock.advance(1)
        self.assertEqual(natpmp.added[1], (12345, 40001, 3600))

    def test_epochReset(self):
        """
        An epoch that went backwards at renewal means the gateway
        restarted; the mapping is made again and the user told.
        """
        natpmp = FakeMapper("NAT-PMP", [
            mapping(lifetime=600, epoch=5000), mapping(lifetime=600, epoch=10),
        ])
        self.service(natpmp).expose(Target(12345))
        self.messages()
        self.clock.advance(300)
        self.assertIn("gateway restarted", self.messages()[0])

    def test_epochAdvancing(self):
        """
        An epoch that advanced with time is no restart.
        """
        natpmp = FakeMapper("NAT-PMP", [
            mapping(lifetime=600, epoch=5000), mapping(lifetime=600, epoch=5300),
        ])
        self.service(natpmp).expose(Target(12345))
        self.messages()
        self.clock.advance(300)
        self.assertEqual(self.messages(), [])

    def test_upnpForgotten(self):
        """
        A UPnP gateway whose entry vanished is noticed at renewal and
        mapped again.
        """
        upnp = UpnpLike("UPnP", [mapping("upnp"), mapping("upnp")], present=[False])
        self.service(upnp).expose(Target(12345))
        self.messages()
        self.clock.advance(1800)
        self.assertEqual(len(upnp.added), 2)
        self.assertIn("gateway restarted", self.messages()[0])

    def test_permanentChecked(self):
        """
        A permanent mapping (lifetime 0) is still checked at half the lease.
        """
        upnp = UpnpLike("UPnP", [mapping("upnp", lifetime=0), mapping("upnp", lifetime=0)], present=[True])
        self.service(upnp).expose(Target(12345))
        self.clock.advance(1800)
        self.assertEqual(len(upnp.added), 2)

    def test_renewalFailureRetried(self):
        """
        A failed renewal is logged and tried again a minute later.
        """
        natpmp = FakeMapper("NAT-PMP", [mapping(lifetime=600), MappingError("NAT-PMP: no"), mapping(lifetime=600)])
        self.service(natpmp).expose(Target(12345))
        self.clock.advance(300)
        self.assertIn("trying again in 60 s", self.messages()[-1])
        self.clock.advance(60)
        self.assertEqual(len(natpmp.added), 3)

    def test_deleteOnStop(self):
        """
        Stopping deletes every mapping and cancels renewals.
        """
        natpmp = FakeMapper("NAT-PMP", [mapping(lifetime=600)])
        service = self.service(natpmp)
        service.expose(Target(12345))
        self.successResultOf(service.stopService())
        self.assertEqual(natpmp.deleted, [mapping(lifetime=600)])
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stopBoundedOnDeadGateway(self):
        """
        A gateway that never answers the delete holds shutdown up for the
        stop timeout only.
        """
        natpmp = FakeMapper("NAT-PMP", [mapping(lifetime=600)])
        natpmp.deleteMapping = lambda m: Deferred()
        service = self.service(natpmp)
        service.expose(Target(12345))
        d = service.stopService()
        self.assertNoResult(d)
        self.clock.advance(3)
        self.successResultOf(d)
        self.assertIn("expires by itself", self.messages()[-1])

    def test_exposeBeforeStart(self):
        """
        Ports that start listening before the service runs are mapped when
        it starts.
        """
        natpmp = FakeMapper("NAT-PMP", [mapping()])
        service = PortMapperService(self.clock, [("NAT-PMP", lambda: succeed(natpmp))])
        service.expose(Target(12345))
        self.assertEqual(natpmp.added, [])
        service.startService()
        self.assertEqual(len(natpmp.added), 1)

    def test_mappedAfterStop(self):
        """
        A mapping granted after the service stopped is deleted at once.
        """
        late = Deferred()
        natpmp = FakeMapper("NAT-PMP", [late])
        service = self.service(natpmp)
        service.expose(Target(12345))
        service.stopService()
        late.callback(mapping())
        self.assertEqual(natpmp.deleted, [mapping()])


class HelpersTests(SynchronousTestCase):
    """
    The pure helpers.
    """

    def test_gatewayRestarted(self):
        """
        Epochs are compared allowing for clock drift.
        """
        self.assertFalse(gatewayRestarted(mapping(epoch=100), mapping(epoch=190), 100))
        self.assertTrue(gatewayRestarted(mapping(epoch=100), mapping(epoch=150), 100))
        self.assertFalse(gatewayRestarted(mapping(), mapping(), 100))


class PinholeTests(SynchronousTestCase):
    """
    IPv6 ports get a pinhole from the IPv6 gateway, not a NAT mapping.
    """

    def setUp(self):
        self.events = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def test_pinholeAnnounced(self):
        """
        A pinhole is opened with the IPv6 methods, and the friend line names
        the bracketed global address; STUN (an IPv4 view) is not consulted.
        """
        natpmp = FakeMapper("NAT-PMP", [])
        pcp6 = FakeMapper("PCP", [mapping("pcp", address="2a01:4f8::2")])
        service = PortMapperService(Clock(), [("NAT-PMP", lambda: succeed(natpmp))],
                                    stun=lambda: self.fail("STUN asked"),
                                    pinholes=[("PCP", lambda: succeed(pcp6))])
        service.startService()
        service.expose(Target(12345, ipv6=True))
        self.assertEqual(natpmp.added, [])
        self.assertEqual(formatEvent(self.events[-1]), unconfirmed("2a01:4f8::2", 12345))

    def test_noPinholeFix(self):
        """
        Without a way to open a pinhole, the fix names the router's IPv6
        firewall.
        """
        pcp6 = FakeMapper("PCP", [MappingError("PCP: the gateway refused (NOT_AUTHORIZED)")])
        service = PortMapperService(Clock(), [], pinholes=[("PCP", lambda: succeed(pcp6))])
        service.startService()
        service.expose(Target(12345, ipv6=True))
        message = formatEvent(self.events[-1])
        self.assertTrue(message.startswith("not exposed: IPv6 port 12345: PCP: the gateway refused"))
        self.assertIn("Allow incoming TCP port 12345 to this machine in your router's IPv6 firewall",
                      message)
