# -*- test-case-name: tests.test_tap -*-
"""
The services of C{twistd globalchat}, built from its parsed options: the
history, the chat and its door, a listening service per port, and the
port mapper.
"""

from __future__ import annotations

import socket
from pathlib import Path

from twisted.application.service import MultiService
from twisted.internet.defer import ensureDeferred
from twisted.internet.interfaces import IReactorCore
from twisted.logger import (
    Logger,
)

from globalchat import endpoints, tls
from globalchat.chat import names
from globalchat.chat.admission import Admission
from globalchat.chat.bus import LocalBus
from globalchat.chat.moderation import Moderation
from globalchat.chat.hub import Hub
from globalchat.cluster.node import clusterNode
from globalchat.expose.gateway import defaultGateway
from globalchat.expose.gateway import globalIPv6Addresses
from globalchat.expose.mapper import (
    PortMapperService,
    gatewayMethods,
    pinholeMethods,
)
from globalchat.expose.path import pathChecker
from globalchat.expose.probe import ProbeHelper
from globalchat.identity.accounts import Accounts
from globalchat.identity.hashing import PasswordHashing
from globalchat.identity.checkers import ServerPasswordChecker
from globalchat.identity.portal import Identity
from globalchat.irc.transport import ircFactory
from globalchat.metrics import EventCounting, metricsService
from globalchat.expose.stun import firstStunAddress
from globalchat.heap import QuietCollector
from globalchat.server import ChatFactory
from globalchat.stateloader import StateLoader
from globalchat.web.gate import Gate
from globalchat.web.site import ChatSite
from globalchat.startup import (
    ListeningService,
    warnWithoutCertificates,
    historyService,
    SecurityLog,
    StartupError,
    exposeWhenListening,
    prepareEndpoint,
    raiseFileLimit,
    withBacklog,
)

log = Logger()

#: Seconds between two readings of the bans and registered rooms on a
#: cluster node: a ban set on one node holds on the others within this.
STATE_REFRESH = 5.0


def makeService(config, reactor: IReactorCore | None = None) -> MultiService:
    """
    Build the server: one hub shared by a listening service per C{--port},
    and the port mapper when C{--expose} is on.
    """
    if reactor is None:
        from twisted.internet import reactor
    raiseFileLimit(config["limits"].maxConnections)
    cluster = None
    if config["cluster"] is not None:
        days = config["history-days"]
        cluster, bus, history = clusterNode(config["cluster"], reactor, config["announce-limit"],
                                            None if days is None else days * 86400.0,
                                            config["history-max"])
        known: dict = {}
    else:
        history, known = historyService(config, reactor)
        bus = LocalBus(config["announce-limit"])
    stored = config["password-file"]
    hashing = PasswordHashing(reactor)
    accounts = None if config["accounts"] == "off" else Accounts(
        history.store, defer=hashing.defer, now=reactor.seconds)
    moderation = None if accounts is None else Moderation(history.store, reactor.seconds,
                                                          config["operators"] or ())
    hub = Hub(greeting=config["greeting"], defaultRoom=config["default-room"],
              motd=config["motd"], store=history.store, known=known, backlog=config["backlog"],
              bus=bus, roomsPerUser=config["max-rooms-per-user"],
              maxRooms=config["max-rooms"], accounts=accounts, moderation=moderation,
              now=reactor.seconds)
    identity = Identity.forServer(
        hub, password=(ServerPasswordChecker(stored, defer=hashing.defer)
                       if stored is not None else None),
        clientCertificates=config["client-ca"] is not None, accounts=accounts,
        guests=config["accounts"] != "required", clock=reactor,
        throttle=not config["no-login-throttle"])
    admission = Admission(hub, identity, config["limits"], reactor)
    probes = ProbeHelper(reactor) if config["probe-helper"] else None
    factory = ChatFactory(admission, maxLineLength=config["max-line-length"], probes=probes)
    top = MultiService()
    if cluster is not None:
        # Before anything that needs Redis, and stopped after it.
        cluster.setServiceParent(top)
    # First in, last out: the history closes after the listeners stop.
    history.setServiceParent(top)
    hashing.setServiceParent(top)
    admission.setServiceParent(top)
    EventCounting(hub.counters).setServiceParent(top)
    if moderation is not None:
        # A node reads again what the other nodes change.
        loader = StateLoader(moderation.load, "bans, rooms and operators", reactor,
                             every=None if cluster is None else STATE_REFRESH,
                             again=moderation.refresh)
        loader.setServiceParent(top)
        if cluster is not None:
            cluster.redis.onAvailable(loader.reload)
    if config["log-json"] is not None:
        path = Path(config["log-json"])
        try:
            path.open("a").close()
        except OSError as e:
            raise StartupError(f"cannot write --log-json {path}: {e.strerror}") from None
        SecurityLog(path).setServiceParent(top)
    mapper = None
    if config["expose"]:
        gateway = config["gateway"] or defaultGateway()
        methods = gatewayMethods(reactor, gateway) if gateway else []
        gateway6 = defaultGateway(socket.AF_INET6)
        pinholes = pinholeMethods(reactor, gateway6) if gateway6 else []
        servers = config["stun"]
        stun = (lambda: ensureDeferred(firstStunAddress(reactor, servers))) if servers else None
        mapper = PortMapperService(reactor, methods, lease=config["expose-lease"], stun=stun,
                                   verify=config["verify-via"], ipv6=globalIPv6Addresses,
                                   path=pathChecker(reactor, config["path-target"]),
                                   pinholes=pinholes)
    ircPorts = [(d, "--irc") for d in config["irc"]]
    irc = ircFactory(admission, config["irc-name"]) if ircPorts else None
    for description, option in [(d, "--port") for d in config["ports"]] + ircPorts:
        prepared, fingerprint = prepareEndpoint(description, config["data-dir"])
        try:
            endpoint = endpoints.serverEndpoint(reactor, withBacklog(prepared), option,
                                                given=description)
        except endpoints.BadEndpoint as e:
            raise StartupError(str(e)) from None
        if config["client-ca"] is not None and fingerprint is not None:
            tls.requireClientCertificates(endpoint, config["client-ca"])
        elif accounts is not None and fingerprint is not None:
            tls.askClientCertificates(endpoint)
        elif config["client-ca"] is not None:
            warnWithoutCertificates(description, accounts is not None)
        listener = ListeningService(endpoint, factory if option == "--port" else irc,
                                    description)
        listener.bind()
        listener.setServiceParent(top)
        if mapper is not None:
            exposeWhenListening(mapper, listener, fingerprint)
    site = ChatSite(admission, history.store, Gate(config["trust-proxy"], config["web-origin"]),
                    reactor, config["max-line-length"]) if config["web"] else None
    for description in config["web"]:
        prepared, fingerprint = prepareEndpoint(description, config["data-dir"])
        try:
            endpoint = endpoints.serverEndpoint(reactor, withBacklog(prepared), "--web",
                                                given=description)
        except endpoints.BadEndpoint as e:
            raise StartupError(str(e)) from None
        listener = ListeningService(endpoint, site, description)
        listener.bind()
        listener.setServiceParent(top)
        if mapper is not None:
            exposeWhenListening(mapper, listener, fingerprint, web=True)
    if mapper is not None:
        mapper.setServiceParent(top)
    if config["metrics"] is not None:
        # After the chat's ports, whose "listening on" lines come first.
        metricsService(reactor, config["metrics"], hub, mapper).setServiceParent(top)
    names.load()
    # Last, so that everything start-up made is frozen.
    QuietCollector().setServiceParent(top)
    return top
