# -*- test-case-name: tests.test_metrics,tests.test_integration_metrics -*-
"""
C{--metrics ENDPOINT}: the server's figures at C{/metrics} in the
Prometheus text format, for Prometheus (and Grafana on top) to watch a
server on the open internet: who is on, what they send, who is refused
and why, whether the store keeps up, whether the port mapping holds.

The chat keeps plain counters (L{globalchat.chat.counters}); a collector
turns them into metrics when Prometheus asks, so the hot path never
calls into C{prometheus_client}.  Security events are counted by a log
observer: the log and the metrics come from the same event.

The page is a small resource calling C{generate_latest} rather than
C{prometheus_client.twisted.MetricsResource}, which serves through
C{WSGIResource} in the global reactor's thread pool: there the collector
would read the chat's state from another thread while the reactor
changes it.
"""

from __future__ import annotations

import ipaddress
from typing import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from twisted.application.service import Service
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.logger import Logger, globalLogPublisher
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from globalchat import endpoints
from globalchat.chat.counters import Counters, largestOwed
from globalchat.chat.hub import Hub
from globalchat.expose.mapper import PortMapperService
from globalchat.startup import ListeningService, StartupError

log = Logger()


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _labelled(family: type[Metric], name: str, documentation: str, label: str,
              values: dict[str, int]) -> Metric:
    """
    A metric with one sample per value of C{label}; every label value is
    one of a few fixed words, never a name or an address.
    """
    metric = family(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        metric.add_metric([key], value)
    return metric


class ChatCollector(Collector):
    """
    The chat's figures, read from its counters and its state at each scrape.

    @param mapper: the port mapper, when C{--expose} is on.
    @param clock: the time leases are measured against.
    """

    def __init__(self, hub: Hub, mapper: PortMapperService | None = None,
                 clock: IReactorTime | None = None) -> None:
        self._hub = hub
        self._mapper = mapper
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        counters = self._hub.counters
        yield from self._connections(counters)
        yield from self._traffic(counters)
        yield from self._store(counters)
        if self._mapper is not None:
            yield from self._exposure(self._mapper)

    def _connections(self, counters: Counters) -> Iterator[Metric]:
        hub = self._hub
        yield _labelled(GaugeMetricFamily, "globalchat_connections_open",
                        "Connections open now, by port kind.", "kind", counters.open)
        yield _labelled(CounterMetricFamily, "globalchat_connections_accepted",
                        "Connections given a session, by port kind.", "kind",
                        counters.accepted)
        yield _labelled(CounterMetricFamily, "globalchat_connections_refused",
                        "Connections refused, by reason (deny, allow, ban, "
                        "max-connections, per-ip, tls).", "reason", counters.refusals())
        yield _labelled(CounterMetricFamily, "globalchat_logins",
                        "Logins by kind (guest, password, certificate), and failed ones.",
                        "kind", counters.loginsByKind())
        yield _gauge("globalchat_users_online", "Users logged in now.", len(hub.names))
        yield _gauge("globalchat_rooms", "Rooms that exist now.", len(hub.bus.rooms()))
        yield _labelled(CounterMetricFamily, "globalchat_security_events",
                        "Events logged with a security key (as --log-json writes them), "
                        "by kind.", "event", counters.events())

    def _traffic(self, counters: Counters) -> Iterator[Metric]:
        yield _counter("globalchat_lines_received", "Lines clients sent, dropped ones "
                       "included.", counters.linesIn)
        yield _counter("globalchat_deliveries", "Messages handed to recipients' "
                       "connections (one per recipient).", counters.deliveries)
        yield _counter("globalchat_received_bytes", "Bytes clients sent.", counters.bytesIn)
        yield _counter("globalchat_sent_bytes", "Bytes written to clients.", counters.bytesOut)
        yield _labelled(CounterMetricFamily, "globalchat_lines_dropped",
                        "Lines dropped, by reason (rate, too-long, invalid-utf8, control).",
                        "reason", counters.dropped)
        yield _counter("globalchat_slow_readers_dropped", "Clients dropped for not "
                       "reading what they were sent.", counters.events()["slow-reader"])
        yield _gauge("globalchat_send_buffer_max_bytes", "The most bytes one client is "
                     "owed while it does not read.", largestOwed(self._hub.bus))

    def _store(self, counters: Counters) -> Iterator[Metric]:
        latency = counters.storeLatency
        histogram = HistogramMetricFamily(
            "globalchat_store_write_duration_seconds",
            "Seconds from handing messages to the store to their being stored.")
        histogram.add_metric([], [(floatToGoString(bound), count) for bound, count in latency.cumulative()],
                             latency.sum)
        yield histogram
        yield _gauge("globalchat_store_queued_messages", "Messages waiting to be stored.",
                     counters.storeWaiting)
        yield _counter("globalchat_store_write_errors", "Store writes that failed (their "
                       "senders were told to send again).", counters.storeErrors)
        yield _gauge("globalchat_history_messages", "Messages the history keeps.",
                     self._hub.store.rows)

    def _exposure(self, mapper: PortMapperService) -> Iterator[Metric]:
        held: dict[str, int] = {}
        for lease in mapper.leases:
            held[lease.mapping.method] = held.get(lease.mapping.method, 0) + 1
        yield _labelled(GaugeMetricFamily, "globalchat_expose_mappings",
                        "Port mappings held on the gateway, by protocol.", "protocol", held)
        now = self._clock.seconds()
        # A permanent mapping (lifetime 0) never runs out; none held has
        # no time left at all.
        left = [lease.grantedAt + lease.mapping.lifetime - now if lease.mapping.lifetime
                else float("inf") for lease in mapper.leases]
        yield _gauge("globalchat_expose_lease_remaining_seconds",
                     "Seconds until the first port mapping lapses unless renewed.",
                     max(min(left, default=0.0), 0.0))
        yield _gauge("globalchat_expose_public_address_known",
                     "1 if the public address friends connect to is known, else 0.",
                     mapper.publicAddress is not None)


class EventCounting(Service):
    """
    Counts the security events while the server runs: the hub's counters
    watch the log, so that every event counts where it is logged.
    """

    def __init__(self, counters: Counters) -> None:
        self._counters = counters

    def startService(self) -> None:
        super().startService()
        globalLogPublisher.addObserver(self._counters)

    def stopService(self) -> None:
        super().stopService()
        globalLogPublisher.removeObserver(self._counters)


class MetricsPage(Resource):
    """
    C{/metrics}: the registry in the Prometheus text format, made on the
    reactor thread, where the chat's state may be read.
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self._registry = registry

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", CONTENT_TYPE_LATEST.encode("ascii"))
        return generate_latest(self._registry)


class MetricsSite(Site):
    """
    Prometheus asks every few seconds: an access log line each time would
    bury the chat's own log.
    """

    noisy = False

    def log(self, request: Request) -> None:
        pass


def metricsSite(registry: CollectorRegistry) -> Site:
    """
    The web site of C{--metrics}: C{/metrics}, and nothing else.
    """
    root = Resource()
    root.putChild(b"metrics", MetricsPage(registry))
    return MetricsSite(root)


def metricsService(reactor, description: str, hub: Hub,
                   mapper: PortMapperService | None = None) -> ListeningService:
    """
    Listen on C{description} for Prometheus: the chat's figures and the
    process's own (memory, CPU, open files).

    @raise StartupError: when it cannot listen there.
    """
    registry = CollectorRegistry()
    registry.register(ChatCollector(hub, mapper, reactor))
    ProcessCollector(registry=registry)
    try:
        endpoint = endpoints.serverEndpoint(reactor, description, option="--metrics")
    except endpoints.BadEndpoint as e:
        raise StartupError(str(e)) from None
    listener = ListeningService(endpoint, metricsSite(registry), f"--metrics {description}")
    listener.bind()
    listener.whenListening().addCallback(warnIfReachable)
    return listener


def warnIfReachable(port: IListeningPort) -> IListeningPort:
    """
    Warn when the metrics listen beyond this machine and its private
    networks: they tell anyone who asks how busy the server is and who
    it refuses.
    """
    host = getattr(port.getHost(), "host", None)
    if host is not None:
        address = ipaddress.ip_address(host.split("%")[0])
        if address.is_unspecified or not (address.is_loopback or address.is_private):
            log.warn("--metrics listens on {host}, which the internet may reach: add "
                     "interface=127.0.0.1 (or a private address) to its endpoint",
                     host=host)
    return port
