"""
Tests for C{--metrics} (L{globalchat.metrics}): what the exporter says
after things happen in an I/O-free chat, every security event counted
where it is logged, the page, and the warning about where it listens.
"""

import re
from pathlib import Path

from OpenSSL import SSL
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet.address import IPv4Address, UNIXAddress
from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import NoResource
from twisted.web.test.requesthelper import DummyRequest

import globalchat
from globalchat.chat.admission import Admission
from globalchat.chat.counters import SECURITY_EVENTS
from globalchat.chat.hub import Hub
from globalchat.expose.mapper import PortMapperService, Target
from globalchat.metrics import ChatCollector, EventCounting, metricsSite, warnIfReachable
from globalchat.policy import Limits, parseNetwork
from globalchat.server import ChatFactory
from globalchat.store.memory import MemoryStore
from globalchat.web.gate import Gate
from globalchat.web.site import ChatSite
from tests.chatfakes import TurnTransport, Chat
from tests.test_expose_mapper import FakeMapper, mapping
from tests.webclient import BINARY, Browser

#: How the code logs a security event.
SECURITY_KEY = re.compile(r'security="([a-z-]+)"')


def scrape(collector) -> dict[tuple[str, tuple], float]:
    """
    What Prometheus would read from C{collector}: every sample by name and
    labels, parsed back from the text format.
    """
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode("utf-8")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def counted(testCase, hub: Hub) -> Hub:
    """
    Count C{hub}'s security events as the server does, for the rest of
    C{testCase}.
    """
    counting = EventCounting(hub.counters)
    counting.startService()
    testCase.addCleanup(counting.stopService)
    return hub


class Door:
    """
    A chat's listening side with a clock, a string transport per client,
    and the limits a test sets.
    """

    def __init__(self, testCase, **limits) -> None:
        self.clock = Clock()
        self.hub = counted(testCase, Hub())
        self.admission = Admission(self.hub, limits=Limits(**limits), clock=self.clock)
        self.factory = ChatFactory(self.admission)

    def connect(self, host="198.51.100.7", name=None):
        address = IPv4Address("TCP", host, 40000)
        protocol = self.factory.buildProtocol(address)
        if protocol is None:
            return None, None
        transport = TurnTransport(self.clock, peerAddress=address)
        protocol.makeConnection(transport)
        if name is not None:
            protocol.dataReceived(name + b"\n")
        return protocol, transport


def refused(testCase) -> Hub:
    door = Door(testCase, deny=parseNetwork("198.51.100.66"), allow=parseNetwork("198.51.100.0/24"),
                banThreshold=1)
    door.connect("198.51.100.66")
    door.connect("203.0.113.1")
    protocol, _ = door.connect()
    door.admission.strike(protocol._session)
    door.connect()
    return door.hub


def overLimit(testCase) -> Hub:
    door = Door(testCase, maxPerIP=1, maxConnections=2)
    door.connect()
    door.connect()
    door.connect("198.51.100.8")
    door.connect("198.51.100.9")
    return door.hub


def banned(testCase) -> Hub:
    door = Door(testCase, banThreshold=2)
    for _ in range(2):
        protocol, _ = door.connect()
        door.admission.strike(protocol._session)
    return door.hub


def tlsFailure(testCase) -> Hub:
    door = Door(testCase)
    door.connect()[0].dataReceived(b"\x16\x03\x01\x02\x00")
    door.connect()[0].connectionLost(Failure(SSL.Error("no shared cipher")))
    return door.hub


def flood(testCase) -> Hub:
    door = Door(testCase, rate=1, burst=1, floodLimit=1)
    door.connect(name=b"Flo")[0].dataReceived(b"a\nb\nc\n")
    return door.hub


def timeout(testCase) -> Hub:
    door = Door(testCase, loginTimeout=5)
    door.connect()
    door.clock.advance(5)
    door.admission.checkTimeouts()
    return door.hub


def slowReader(testCase) -> Hub:
    door = Door(testCase, maxSendBuffer=1000)
    reader, _ = door.connect(name=b"Slow")
    sender, _ = door.connect("203.0.113.9", name=b"Fast")
    reader.pauseProducing()
    sender.dataReceived((b"x" * 500 + b"\n") * 9)
    return door.hub


def accounts(testCase) -> Chat:
    chat = Chat(operators=["Root"])
    counted(testCase, chat.hub)
    chat.connect("Root", "/register root-password")
    return chat


def authFailed(testCase) -> Hub:
    chat = accounts(testCase)
    chat.hub.bus.holder("Root").disconnected()
    chat.connect("Root", "wrong-password")
    return chat.hub


def moderation(testCase) -> Hub:
    chat = accounts(testCase)
    root = chat.hub.bus.holder("Root")
    chat.connect("Bob")
    root.lineReceived("/kick #lobby Bob enough")
    return chat.hub


def accountChanges(testCase) -> Hub:
    chat = accounts(testCase)
    root = chat.hub.bus.holder("Root")
    root.lineReceived("/passwd root-password new-password")
    root.lineReceived("/unregister new-password")
    return chat.hub


def browser(testCase, **limits) -> tuple[Hub, Browser]:
    """
    A hub, counted, with its web site, and one browser's WebSocket open.
    """
    hub = counted(testCase, Hub())
    site = ChatSite(Admission(hub, limits=Limits(**limits), clock=Clock()), MemoryStore(),
                    Gate(), Clock(), 64)
    page = Browser(site)
    page.open()
    return hub, page


def badOrigin(testCase) -> Hub:
    hub = counted(testCase, Hub())
    site = ChatSite(Admission(hub, clock=Clock()), MemoryStore(), Gate(), Clock(), 64)
    Browser(site).open(origin="https://evil.example")
    return hub


def binaryFrame(testCase) -> Hub:
    hub, page = browser(testCase)
    page.send(b"hello", BINARY)
    return hub


def webLineTooLong(testCase) -> Hub:
    hub, page = browser(testCase)
    page.type("Ann", "x" * 65)
    page.lost()
    return hub


#: A way to make each kind of security event happen, by kind.
TRIGGERS = {
    "refused": refused, "over-limit": overLimit, "banned": banned,
    "tls-failure": tlsFailure, "auth-failed": authFailed, "flood": flood,
    "timeout": timeout, "slow-reader": slowReader, "moderation": moderation,
    "registered": lambda testCase: accounts(testCase).hub, "password-changed": accountChanges,
    "unregistered": accountChanges, "bad-origin": badOrigin, "binary-frame": binaryFrame,
    "line-too-long": webLineTooLong,
}

#: What else each kind moves: (metric, labels) and by how much.
DERIVED = {
    "refused": {("globalchat_connections_refused_total", (("reason", rule),)): 1
                for rule in ("deny", "allow", "ban")},
    "over-limit": {("globalchat_connections_refused_total", (("reason", rule),)): 1
                   for rule in ("per-ip", "max-connections")},
    "tls-failure": {("globalchat_connections_refused_total", (("reason", "tls"),)): 2},
    "auth-failed": {("globalchat_logins_total", (("kind", "failed"),)): 1},
    "slow-reader": {("globalchat_slow_readers_dropped_total", ()): 1},
}


class SecurityEventTests(SynchronousTestCase):
    """
    Every security event is counted where it is logged: the metrics and
    the log (and C{--log-json}) cannot disagree.
    """

    def test_everyKindKnown(self):
        """
        The kinds the code logs are the kinds exported and tested here: a
        new kind of event is not forgotten by the metrics.
        """
        logged = {kind for path in Path(globalchat.__file__).parent.rglob("*.py")
                  for kind in SECURITY_KEY.findall(path.read_text(encoding="utf-8"))}
        self.assertEqual((logged, set(TRIGGERS)), (set(SECURITY_EVENTS), set(SECURITY_EVENTS)))

    def test_countedWhereLogged(self):
        """
        For each kind, the exported count is exactly the number of events
        logged, and the metric that names it (refusals by reason, failed
        logins, slow readers dropped) moved with it.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        for kind, trigger in TRIGGERS.items():
            del events[:]
            hub = trigger(self)
            samples = scrape(ChatCollector(hub))
            logged = sum(1 for e in events if e.get("security") == kind)
            self.assertGreater(logged, 0, kind)
            self.assertEqual(
                samples["globalchat_security_events_total", (("event", kind),)], logged, kind)
            for key, moved in DERIVED.get(kind, {}).items():
                self.assertEqual(samples[key], moved, (kind, key))


class CollectorTests(SynchronousTestCase):
    """
    The exported figures, as Prometheus parses them.
    """

    def test_chat(self):
        """
        A chat of two in one room, one message and one over-long line: the
        figures say so, with each label value a fixed word.
        """
        door = Door(self)
        ann, annTransport = door.connect(name=b"Ann")
        door.connect("203.0.113.9", name=b"Bob")
        ann.dataReceived(b"hello\n" + b"x" * 5000 + b"\n")
        samples = scrape(ChatCollector(door.hub))
        self.assertEqual({key: samples[key] for key in [
            ("globalchat_connections_open", (("kind", "tcp"),)),
            ("globalchat_connections_open", (("kind", "tls"),)),
            ("globalchat_connections_accepted_total", (("kind", "tcp"),)),
            ("globalchat_logins_total", (("kind", "guest"),)),
            ("globalchat_users_online", ()),
            ("globalchat_rooms", ()),
            ("globalchat_lines_received_total", ()),
            ("globalchat_deliveries_total", ()),
            ("globalchat_lines_dropped_total", (("reason", "too-long"),)),
            ("globalchat_store_write_duration_seconds_count", ()),
            ("globalchat_store_queued_messages", ()),
            ("globalchat_history_messages", ()),
        ]}, {
            ("globalchat_connections_open", (("kind", "tcp"),)): 2,
            ("globalchat_connections_open", (("kind", "tls"),)): 0,
            ("globalchat_connections_accepted_total", (("kind", "tcp"),)): 2,
            ("globalchat_logins_total", (("kind", "guest"),)): 2,
            ("globalchat_users_online", ()): 2,
            ("globalchat_rooms", ()): 1,
            ("globalchat_lines_received_total", ()): 4,
            ("globalchat_deliveries_total", ()): 2,
            ("globalchat_lines_dropped_total", (("reason", "too-long"),)): 1,
            ("globalchat_store_write_duration_seconds_count", ()): 1,
            ("globalchat_store_queued_messages", ()): 0,
            ("globalchat_history_messages", ()): 1,
        })
        self.assertEqual(samples["globalchat_received_bytes_total", ()],
                         len(b"Ann\nhello\n" + b"x" * 5000 + b"\n" + b"Bob\n"))
        self.assertGreater(samples["globalchat_sent_bytes_total", ()],
                           len(annTransport.value()))
        names = {labels for _, labels in samples}
        self.assertTrue({key for labels in names for key, _ in labels}
                        <= {"kind", "reason", "event", "le"}, names)

    def test_exposure(self):
        """
        With --expose: the mappings held by protocol, the time left on the
        first to lapse, and whether the public address is known.
        """
        clock = Clock()
        pcp = FakeMapper("PCP", [mapping("pcp", lifetime=600, address="8.8.8.8")])
        mapper = PortMapperService(clock, [("PCP", lambda: succeed(pcp))])
        collector = ChatCollector(Hub(), mapper, clock)
        before = scrape(collector)
        self.assertEqual((before["globalchat_expose_lease_remaining_seconds", ()],
                          before["globalchat_expose_public_address_known", ()]), (0, 0))
        mapper.startService()
        mapper.expose(Target(12345))
        clock.advance(100)
        after = scrape(collector)
        self.assertEqual((after["globalchat_expose_mappings", (("protocol", "pcp"),)],
                          after["globalchat_expose_lease_remaining_seconds", ()],
                          after["globalchat_expose_public_address_known", ()]), (1, 500, 1))

    def test_noExposureWithout(self):
        """
        Without --expose there are no exposure metrics at all.
        """
        self.assertFalse([name for name, _ in scrape(ChatCollector(Hub()))
                          if name.startswith("globalchat_expose")])


class PageTests(SynchronousTestCase):
    """
    The web side: C{/metrics} in the text format, nothing else.
    """

    def test_metrics(self):
        """
        /metrics answers in the Prometheus text format with the registry's
        figures.
        """
        registry = CollectorRegistry()
        registry.register(ChatCollector(Hub()))
        site = metricsSite(registry)
        request = DummyRequest([b"metrics"])
        body = site.getResourceFor(request).render(request)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"),
                         [CONTENT_TYPE_LATEST.encode("ascii")])
        self.assertIn(b"globalchat_users_online 0.0", body)

    def test_nothingElse(self):
        """
        Any other path is not found.
        """
        site = metricsSite(CollectorRegistry())
        self.assertIsInstance(site.getResourceFor(DummyRequest([b"admin"])), NoResource)


class FakePort:
    def __init__(self, address) -> None:
        self._address = address

    def getHost(self):
        return self._address


class ReachableTests(SynchronousTestCase):
    """
    A warning when the metrics listen where the internet may reach them.
    """

    def warnings(self, address) -> list:
        events = []
        globalLogPublisher.addObserver(events.append)
        try:
            warnIfReachable(FakePort(address))
        finally:
            globalLogPublisher.removeObserver(events.append)
        return [e for e in events if "--metrics listens on" in e.get("log_format", "")]

    def test_everyAddress(self):
        """
        Every address (no interface= in the endpoint) is warned about, as
        is a public one.
        """
        for host in ("0.0.0.0", "::", "8.8.8.8"):
            self.assertEqual(len(self.warnings(IPv4Address("TCP", host, 9100))), 1, host)

    def test_privateOrLocal(self):
        """
        Loopback, private networks and Unix sockets are fine.
        """
        for address in (IPv4Address("TCP", "127.0.0.1", 9100),
                        IPv4Address("TCP", "10.1.2.3", 9100), UNIXAddress("/run/metrics")):
            self.assertEqual(self.warnings(address), [], address)
