# -*- test-case-name: tests.test_client_failover -*-
"""
Several servers of one chat (the nodes of a cluster), tried in turn.

A client given C{host1:port1,host2:port2} keeps to the server it reached
until that one cannot be reached; then the next connection attempt goes
to the next server at once, before the reconnection back-off applies, so
that a node going down costs its users one failed connect, not a wait.
The resuming login (C{@resume=N}) does the rest: every node reads the
same history.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IProtocol, IProtocolFactory, IStreamClientEndpoint
from twisted.python.failure import Failure
from zope.interface import implementer


@implementer(IStreamClientEndpoint)
class FailoverEndpoint:
    """
    Connect to the first of several endpoints that answers, starting from
    the one that answered last.

    @ivar where: the server now tried or connected to, as the user wrote it.
    """

    def __init__(self, endpoints: list[tuple[str, IStreamClientEndpoint]]) -> None:
        """
        @param endpoints: each server as the user wrote it, and its endpoint.
        """
        if not endpoints:
            raise ValueError("no servers")
        self._endpoints = endpoints
        self._current = 0

    @property
    def where(self) -> str:
        return self._endpoints[self._current][0]

    def connect(self, factory: IProtocolFactory) -> Deferred[IProtocol]:
        return self._attempt(factory, len(self._endpoints))

    def _attempt(self, factory: IProtocolFactory, left: int) -> Deferred[IProtocol]:
        d = self._endpoints[self._current][1].connect(factory)

        def failed(reason: Failure) -> Deferred[IProtocol] | Failure:
            if left <= 1:
                return reason
            self._current = (self._current + 1) % len(self._endpoints)
            return self._attempt(factory, left - 1)

        return d.addErrback(failed)

