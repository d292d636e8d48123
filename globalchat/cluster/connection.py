# -*- test-case-name: tests.test_cluster_connection -*-
"""
A node's two connections to its cluster's Redis, kept open (one for
commands, one for pub/sub, as a subscribed connection can do nothing
else), reconnected with back-off.

While either connection is down the cluster is I{unavailable}: every
command fails at once with L{RedisUnavailable}, which the chat answers as
an C{ERROR} line, instead of waiting or being lost.  The outage is logged
once when it starts and once when it ends, never per command.
"""

from __future__ import annotations

import random
from typing import Callable

import txredisapi
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, fail, gatherResults, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from globalchat.chat.errors import ChatError
from globalchat.cluster.address import ClusterAddress

#: Seconds between PINGs on each connection: a connection whose path died
#: without a word is noticed within this plus L{REPLY_TIMEOUT}.
PING_INTERVAL = 5.0

#: Seconds a command may wait for its reply before its connection is
#: given up as dead.
REPLY_TIMEOUT = 5.0

#: The longest wait between two attempts to reconnect, in seconds.
MAX_DELAY = 5.0

class RedisUnavailable(ChatError):
    """
    Redis cannot be reached right now: whatever needed it was not done.
    """

    def __init__(self) -> None:
        super().__init__("this server has lost touch with the rest of the chat for a moment; "
                         "nothing was done: try again shortly")


class _Subscriber(txredisapi.SubscriberProtocol):
    """
    The pub/sub connection: every message goes to the link's listener.
    """

    def messageReceived(self, pattern, channel, message) -> None:
        self.factory.link.redis.received(channel, message)


class _LinkFactory(Factory):
    """
    Builds the protocols of one L{_Link}, with what txredisapi's protocols
    expect of their factory.
    """

    isLazy = False
    noisy = False

    def __init__(self, link: _Link) -> None:
        self.link = link

    def buildProtocol(self, addr):
        link = self.link
        address = link.address
        protocol = link.protocolClass(
            charset="utf-8", replyTimeout=REPLY_TIMEOUT, password=address.password,
            dbid=None if link.subscriber else address.db, convertNumbers=False,
            username=address.username)
        protocol.factory = self
        protocol.callLater = link.clock.callLater
        protocol.whenDisconnected().addCallback(link.lost)
        return protocol

    def stopTrying(self) -> None:
        # txredisapi gives up after a refused password; a node keeps trying,
        # so that a password corrected on the Redis side is picked up.
        pass

    def connectionError(self, why: str) -> None:
        self.link.reason = why.replace("Redis error: ", "")


class _Link:
    """
    One connection to Redis, kept open: reconnected with back-off (quietly:
    L{Redis} logs the outage), pinged, and ready only once logged in (and,
    for the subscriber, subscribed).
    """

    def __init__(self, redis: Redis, subscriber: bool) -> None:
        self.redis = redis
        self.address = redis.address
        self.clock = redis.clock
        self.subscriber = subscriber
        self.protocolClass = _Subscriber if subscriber else txredisapi.RedisProtocol
        #: The connection, once ready.
        self.protocol = None
        self.reason = ""
        self._endpoint = self.address.endpoint(redis.clock)
        self._factory = _LinkFactory(self)
        self._attempts = 0
        self._retry = None
        self._connecting: Deferred | None = None
        self._stopped = True
        self._ping = LoopingCall(self._sendPing)
        self._ping.clock = redis.clock

    def start(self) -> None:
        self._stopped = False
        self._connect()

    def stop(self) -> None:
        self._stopped = True
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        if self._connecting is not None:
            self._connecting.cancel()
        if self._ping.running:
            self._ping.stop()
        if self.protocol is not None:
            self.protocol.transport.loseConnection()

    def _connect(self) -> None:
        self._retry = None
        d = self._connecting = self._endpoint.connect(self._factory)
        d.addCallback(self._prepare)
        d.addCallbacks(self._ready, self._failed)

    def _prepare(self, protocol) -> Deferred:
        # Ready when logged in and (the subscriber) subscribed again: what
        # was published meanwhile is not seen; the bus catches up then.
        ready = Deferred()
        protocol.whenDisconnected().addCallback(
            lambda _: ready.called or ready.errback(Failure(ConnectionRefusedError(
                self.reason or "Redis closed the connection"))))

        def connected(_):
            if self.subscriber:
                return self.redis.subscribeAll(protocol)

        protocol.whenConnected().addCallback(connected).addCallbacks(
            lambda _: ready.called or ready.callback(protocol),
            lambda f: ready.called or ready.errback(f))
        return ready

    def _ready(self, protocol) -> None:
        self._connecting = None
        if self._stopped:
            protocol.transport.loseConnection()
            return
        self._attempts = 0
        self.reason = ""
        self.protocol = protocol
        self._ping.start(PING_INTERVAL, now=False)
        self.redis.linkChanged()

    def _failed(self, failure: Failure) -> None:
        self._connecting = None
        if self._stopped:
            return
        self.reason = self.reason or failure.getErrorMessage()
        self._later()

    def _later(self) -> None:
        """
        Try again after a delay growing to L{MAX_DELAY}.
        """
        self._attempts += 1
        delay = min(MAX_DELAY, 0.2 * 2 ** (self._attempts - 1)) * random.uniform(0.8, 1.2)
        self._retry = self.clock.callLater(delay, self._connect)

    def _sendPing(self) -> None:
        if self.protocol is not None:
            # A reply that does not come in time aborts the connection.
            self.protocol.ping().addErrback(lambda f: None)

    def lost(self, protocol) -> None:
        if protocol is not self.protocol:
            return
        self.protocol = None
        self.reason = "the connection was lost"
        if self._ping.running:
            self._ping.stop()
        self.redis.linkChanged()
        if not self._stopped:
            self._later()


class Redis(MultiService):
    """
    A node's two connections to Redis, as one service that is available
    only when both are up.

    @ivar available: whether commands can be sent now.
    @ivar address: where Redis is.
    """

    log = Logger()

    def __init__(self, address: ClusterAddress, clock: IReactorTime,
                 received: Callable[[str, str], None] = lambda channel, message: None) -> None:
        """
        @param received: called with the channel and the text of every
            message published on a channel subscribed to.
        """
        super().__init__()
        self.address = address
        self.clock = clock
        self.available = False
        self._received = received
        self._channels: set[str] = set()
        self._whenAvailable: list[Callable[[], None]] = []
        self._downSince: float | None = None
        self._everUp = False
        self._starting: list[tuple[Deferred, Callable]] = []
        self._commands = _Link(self, subscriber=False)
        self._subscriber = _Link(self, subscriber=True)

    def startService(self) -> None:
        super().startService()
        self._commands.start()
        self._subscriber.start()

    def stopService(self) -> None:
        super().stopService()
        self.available = False
        starting, self._starting = self._starting, []
        for d, _ in starting:
            d.errback(RedisUnavailable())
        self._commands.stop()
        self._subscriber.stop()

    def listen(self, received: Callable[[str, str], None]) -> None:
        """
        Call C{received} with the channel and the text of every message
        published on a channel subscribed to.
        """
        self._received = received

    def onAvailable(self, callback: Callable[[], None]) -> None:
        """
        Call C{callback} every time Redis becomes available: at first, and
        after every outage (state kept in Redis may need writing again).
        """
        self._whenAvailable.append(callback)

    def linkChanged(self) -> None:
        """
        A connection came up or went down: log an outage once, when it
        starts and when it ends.
        """
        up = self._commands.protocol is not None and self._subscriber.protocol is not None
        if up == self.available or not self.running:
            return
        self.available = up
        now = self.clock.seconds()
        if up:
            if self._everUp:
                self.log.info("Redis at {address} is back after {seconds:.1f} s",
                              address=str(self.address), seconds=now - (self._downSince or now))
            else:
                self.log.info("connected to Redis at {address}", address=str(self.address))
            self._everUp = True
            self._downSince = None
            starting, self._starting = self._starting, []
            for d, send in starting:
                self._call(send).chainDeferred(d)
            for callback in list(self._whenAvailable):
                callback()
        else:
            self._downSince = now
            reason = self._commands.reason or self._subscriber.reason
            self.log.warn("lost Redis at {address} ({reason}): refusing what needs it, "
                          "reconnecting", address=str(self.address), reason=reason)

    # -- commands ----------------------------------------------------------

    def execute(self, *args) -> Deferred:
        """
        Send one command.

        @return: its reply, or a L{RedisUnavailable} failure, at once when
            Redis is away.
        """
        return self._call(lambda p: p.execute_command(*args))

    def eval(self, script: str, keys: list[str], args: list) -> Deferred:
        """
        Run a Lua script (by its hash once Redis knows it).
        """
        return self._call(lambda p: p.eval(script, keys, args))

    def publish(self, channel: str, message: str) -> Deferred:
        return self.execute("PUBLISH", channel, message)

    def _call(self, send) -> Deferred:
        if not self._everUp and self.running:
            # Starting: the start-up check found Redis, the connections are
            # on their way; what the chat needs at once (bans, rooms) waits.
            d: Deferred = Deferred()
            self._starting.append((d, send))
            return d
        protocol = self._commands.protocol
        if protocol is None or not self.available:
            return fail(RedisUnavailable())
        try:
            d = send(protocol)
        except txredisapi.ConnectionError:
            return fail(RedisUnavailable())
        return d.addErrback(_unavailable)

    # -- subscriptions -----------------------------------------------------

    def subscribe(self, channel: str) -> Deferred[None]:
        """
        Receive what is published on C{channel}, now and after reconnecting.

        @return: fires once Redis has confirmed it (at once if it had), or
            fails with L{RedisUnavailable}.
        """
        if channel in self._channels:
            return succeed(None)
        protocol = self._subscriber.protocol
        if protocol is None or not self.available:
            return fail(RedisUnavailable())
        self._channels.add(channel)

        def failed(failure: Failure) -> Failure:
            self._channels.discard(channel)
            return _unavailable(failure)

        return protocol.subscribe(channel).addCallbacks(lambda _: None, failed)

    def follow(self, channel: str) -> None:
        """
        Subscribe to C{channel} from the first connection on, as the
        subscriber connection is made ready.
        """
        self._channels.add(channel)
        protocol = self._subscriber.protocol
        if protocol is not None:
            protocol.subscribe(channel).addErrback(lambda f: None)

    def unsubscribe(self, channel: str) -> None:
        """
        Stop receiving what is published on C{channel}.
        """
        if channel not in self._channels:
            return
        self._channels.discard(channel)
        protocol = self._subscriber.protocol
        if protocol is not None:
            protocol.unsubscribe(channel).addErrback(lambda f: None)

    def subscribeAll(self, protocol) -> Deferred:
        """
        Subscribe a new subscriber connection to every channel wanted, one
        command each (txredisapi matches one reply to one command).
        """
        return gatherResults([protocol.subscribe(channel) for channel in sorted(self._channels)])

    def received(self, channel: str, message: str) -> None:
        try:
            self._received(channel, message)
        except Exception:
            self.log.failure("handling a message on {channel} failed", channel=channel)


def _unavailable(failure: Failure) -> Failure:
    """
    A command lost with its connection failed because Redis went away.
    """
    if failure.check(txredisapi.ConnectionError):
        return Failure(RedisUnavailable())
    return failure
