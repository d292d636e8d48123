# -*- test-case-name: tests.test_cluster_bus -*-
"""
A node's life in its cluster: its heartbeat, writing its state again after
an outage, and freeing its names when it stops.

Every L{keys.HEARTBEAT_INTERVAL} seconds a node writes its key (who it
is, how many clients it has) with an expiry of L{keys.HEARTBEAT_EXPIRY}
seconds, and clears away the names of nodes whose key has expired,
telling their rooms that those users quit.  A node killed without a word
(SIGKILL, a power cut) thus frees its names within
C{HEARTBEAT_EXPIRY} of its last heartbeat, and its rooms hear of it at
most one interval later.
"""

from __future__ import annotations

import os
import socket

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.cluster import busscripts, keys
from globalchat.cluster.bus import RedisBus
from globalchat.cluster.address import BadClusterURL, ClusterAddress, Unreachable, probe
from globalchat.cluster.connection import Redis, RedisUnavailable
from globalchat.cluster.store import RedisStore
from globalchat.startup import StartupError
from globalchat.store.service import HistoryService


class ClusterService(MultiService):
    """
    The node's connection to Redis and its heartbeat; stopping it frees
    the node's names before the connection closes.
    """

    log = Logger()

    def __init__(self, redis: Redis, bus: RedisBus, clock: IReactorTime,
                 interval: float = keys.HEARTBEAT_INTERVAL,
                 expiry: float = keys.HEARTBEAT_EXPIRY) -> None:
        super().__init__()
        self.redis = redis
        self.bus = bus
        self._clock = clock
        self._interval = interval
        self._expiry = expiry
        self._started = clock.seconds()
        self._beats = LoopingCall(self.beat)
        self._beats.clock = clock
        redis.setServiceParent(self)
        redis.onAvailable(self._rejoin)

    def startService(self) -> None:
        super().startService()
        self.log.info("this server is node {node} of the cluster at {address}",
                      node=self.bus.nodeId, address=str(self.redis.address))
        self._beats.start(self._interval, now=False)

    def stopService(self) -> Deferred:
        if self._beats.running:
            self._beats.stop()
        d = succeed(None)
        if self.redis.available:
            d = self.bus._eval(busscripts.LEAVE_CLUSTER, self.bus.nodeId).addErrback(_quietly)
        return d.addCallback(lambda _: super(ClusterService, self).stopService())

    def beat(self) -> Deferred[None]:
        """
        Say this node is alive, and clear dead nodes away.
        """
        if not self.redis.available:
            return succeed(None)
        fields = ["host", socket.gethostname(), "pid", os.getpid(), "started",
                  f"{self._started:.0f}", "clients", len(self.bus._sessions)]
        d = self.bus._eval(busscripts.BEAT, self.bus.nodeId, int(self._expiry * 1000),
                           f"{self._clock.seconds():.3f}", *fields)
        return d.addCallbacks(self._cleared, _quietly)

    def _cleared(self, dead: list) -> None:
        for node, count in zip(dead[::2], dead[1::2]):
            self.log.warn("node {node} stopped beating: its {count} names are free again",
                          node=node, count=count)

    def _rejoin(self) -> None:
        """
        Redis is (back) up: beat at once, and write this node's state again
        in the same breath, before any claim sent after this one.
        """
        self.beat()
        self.bus.resync().addErrback(_quietly)


def _quietly(failure: Failure) -> None:
    if not failure.check(RedisUnavailable):
        ClusterService.log.failure("a heartbeat failed", failure)


def clusterNode(address: ClusterAddress, reactor, announceLimit: int,
                maxAge: float | None, maxPerRoom: int | None
                ) -> tuple[ClusterService, RedisBus, HistoryService]:
    """
    Make this process a node of the cluster whose Redis is at C{address}:
    checked now (while twistd builds the server, so that a Redis that
    cannot be reached is one line on the terminal), then kept connected.

    @raise StartupError: when Redis cannot be reached or logged in to.
    """
    try:
        address.tlsOptions() if address.tls else None
        probe(address)
    except (Unreachable, BadClusterURL) as e:
        raise StartupError(str(e)) from None
    redis = Redis(address, reactor)
    bus = RedisBus(redis, announceLimit)
    history = HistoryService(RedisStore(redis), reactor, maxAge, maxPerRoom)
    return ClusterService(redis, bus, reactor), bus, history
