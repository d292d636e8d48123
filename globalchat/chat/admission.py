# -*- test-case-name: tests.test_server_limits -*-
"""
Who gets a session: the address rules (allow and deny lists, connection
counts, bans) applied to every transport alike, and the one timer that
checks every session's time-outs.
"""

from __future__ import annotations

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from globalchat.chat.hub import Hub
from globalchat.chat.connection import IConnection
from globalchat.chat.output import TurnOutput
from globalchat.chat.session import Session
from globalchat.identity.portal import Identity
from globalchat.policy import MAX_TRACKED, Gatekeeper, Limits

#: Seconds between two log lines about one address's refused connections.
REFUSALS_LOGGED_EVERY = 60.0


class Admission(Service):
    """
    The door of one server, shared by all its listening ports.

    @ivar hub: the chat every session joins.
    @ivar identity: what a client must show to log in.
    @ivar limits: the configured limits.
    @ivar clock: the time every rule is measured with.
    @ivar output: writes what every session was sent in a turn at its end.
    """

    log = Logger()

    def __init__(self, hub: Hub, identity: Identity | None = None, limits: Limits | None = None,
                 clock: IReactorTime | None = None) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.hub = hub
        self.identity = identity if identity is not None else Identity.forServer(hub)
        self.limits = limits if limits is not None else Limits()
        self.clock = clock
        #: Every session's bytes of one turn, written once at its end.
        self.output = TurnOutput(clock)
        self._gatekeeper = Gatekeeper(clock, self.limits)
        self._sessions: set[Session] = set()
        #: When each (address, reason) refusal was last logged, and how
        #: many since were not.
        self._refusals: dict[tuple[str, str], tuple[float, int]] = {}
        self._sweep = LoopingCall(self.checkTimeouts)
        self._sweep.clock = clock

    def startService(self) -> None:
        super().startService()
        self._sweep.start(1.0, now=False)

    def stopService(self) -> None:
        super().stopService()
        if self._sweep.running:
            self._sweep.stop()

    def screen(self, host: str, peer: str) -> bool:
        """
        Whether C{host} may connect at all, decided before a byte is read
        from it.
        """
        refusal = self._gatekeeper.screen(host)
        if refusal is not None:
            # One line a minute for each address and reason, however many
            # times it knocks: refusals must not fill the log.
            now = self.clock.seconds()
            key = (self._gatekeeper.key(host), refusal)
            last, quiet = self._refusals.get(key, (None, 0))
            if last is not None and now - last < REFUSALS_LOGGED_EVERY:
                self._refusals[key] = (last, quiet + 1)
            else:
                self.log.warn("refused {peer}: {reason}{more}", peer=peer, reason=refusal,
                              more=f" ({quiet} more not logged)" if quiet else "",
                              security="refused", rule=refusal.rule)
                if len(self._refusals) > MAX_TRACKED:
                    self._refusals.clear()
                self._refusals[key] = (now, 0)
        return refusal is None

    def connect(self, connection: IConnection,
                protocol: type[Session] = Session) -> Session | None:
        """
        A client connected: give it a session, or one line saying why not
        (too many connections) and hang up.

        @param protocol: the session class of the protocol it speaks.
        """
        refusal = self._gatekeeper.admit(connection.host)
        if refusal is not None:
            self.log.warn("refused {peer}: {reason}", peer=connection.peer, reason=refusal,
                          security="over-limit", rule=refusal.rule)
            connection.write(protocol.defaultRender.error(refusal))
            connection.close()
            return None
        session = protocol(self, connection, self.clock.seconds())
        self._sessions.add(session)
        self.hub.counters.connected(connection.kind)
        self.log.info("{peer} connected", peer=connection.peer)
        return session

    @property
    def connections(self) -> int:
        """
        How many connections have a session, logged in or not.
        """
        return len(self._sessions)

    def disconnected(self, session: Session) -> None:
        """
        C{session}'s connection ended.
        """
        if session in self._sessions:
            self._sessions.discard(session)
            self.hub.counters.disconnected(session.connection.kind)
            self._gatekeeper.release(session.connection.host)

    def strike(self, session: Session) -> None:
        """
        Count abuse (a flood, a wrong password) against C{session}'s
        address; the strike that bans it also ends every session from it.
        """
        host = session.connection.host
        if not self._gatekeeper.strike(host):
            return
        banned = self._gatekeeper.key(host)
        self.log.warn("banned {host} for {time:g} s after repeated abuse",
                      host=banned, time=self.limits.banTime, security="banned")
        # Every connection from there ends now: lines they already sent
        # (pipelined guesses) are not looked at.
        for other in list(self._sessions):
            if self._gatekeeper.key(other.connection.host) == banned:
                other.closeWith(other.render.error("banned for repeated abuse"))

    def checkTimeouts(self) -> None:
        """
        Close the sessions whose time is up (no name, idle, not reading).
        """
        now = self.clock.seconds()
        for session in list(self._sessions):
            session.checkTimeouts(now)
