# -*- test-case-name: tests.test_cluster_status,tests.test_admin -*-
"""
A connection to a cluster's Redis for a command that runs once and ends
(C{globalchat-doctor --cluster}, C{globalchat-admin --cluster}): the
node's own connection (L{globalchat.cluster.connection.Redis}), checked
first, waited for, and every failure one line.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from twisted.internet.defer import Deferred, TimeoutError

from globalchat.cluster.address import BadClusterURL, Unreachable, parseURL, probe
from globalchat.cluster.connection import Redis

#: Seconds to wait for the connection to be ready.
CONNECT_TIMEOUT = 10.0


class Unusable(Exception):
    """
    The cluster's Redis cannot be used; C{str()} is one line saying why,
    without the password.
    """


@asynccontextmanager
async def clusterRedis(reactor, url: str) -> AsyncIterator[tuple[Redis, str]]:
    """
    Connected to the Redis of C{url} for the duration of the block.

    @return: the connection, and Redis's address as it may be shown.
    @raise Unusable: when it cannot be reached, logged in to, or used.
    """
    try:
        address = parseURL(url)
        probe(address)
    except (BadClusterURL, Unreachable) as e:
        raise Unusable(str(e)) from None
    redis = Redis(address, reactor)
    available: Deferred = Deferred()
    redis.onAvailable(lambda: available.called or available.callback(None))
    redis.startService()
    try:
        try:
            await available.addTimeout(CONNECT_TIMEOUT, reactor)
        except TimeoutError:
            raise Unusable(f"Redis at {address} answered a first check, then could not be "
                           f"used for {CONNECT_TIMEOUT:g} s") from None
        yield redis, str(address)
    finally:
        redis.stopService()
