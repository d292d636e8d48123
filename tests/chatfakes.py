"""
Test doubles for the chat logic: connections that record what they get.
"""

from pathlib import Path

from OpenSSL import crypto
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from zope.interface import implementer

from twisted.internet.defer import maybeDeferred

from globalchat.chat.admission import Admission
from globalchat.chat.hub import Hub
from globalchat.chat.moderation import Moderation
from globalchat.identity.accounts import Accounts
from globalchat.identity.portal import Identity
from globalchat.store.memory import MemoryStore
from globalchat.chat.connection import IConnection
from globalchat.policy import Limits
from globalchat.tls import issueCertificate

#: Noon of the day the tests' messages are stamped with.
NOON = 1795780800.0

#: Limits that a scripted conversation never reaches.
GENEROUS = Limits(maxPerIP=None, maxConnections=None, rate=1e9, burst=1e9)


@implementer(IConnection)
class Recorder:
    """
    A connection that keeps what it is sent.
    """

    def __init__(self, peer="127.0.0.1:1", certificate=None, kind="tcp", clock=None):
        self.peer = peer
        self.host = peer.rpartition(":")[0]
        self.certificate = certificate
        self.kind = kind
        #: The clock of the admission it connects through: reading what
        #: it was sent first ends the turn, when sessions write.
        self.clock = clock
        self._data = []
        self.closed = False
        self.aborted = False

    @property
    def data(self):
        """
        What it was sent, one item per write, once the turn is over.
        """
        if self.clock is not None:
            self.clock.advance(0)
        return self._data

    def write(self, data):
        self._data.append(data)

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def lines(self):
        """
        Everything received so far as text lines, then forget it.
        """
        text = b"".join(self.data).decode("utf-8")
        self.data.clear()
        return text.splitlines()


class TurnTransport(StringTransport):
    """
    A L{StringTransport} read as a client would find it once the reactor's
    turn is over: sessions write what they were sent in a turn at its end
    (L{globalchat.chat.output}).
    """

    def __init__(self, clock, **kwargs):
        self.clock = clock
        super().__init__(**kwargs)

    def value(self):
        self.clock.advance(0)
        return super().value()

    def clear(self):
        self.clock.advance(0)
        super().clear()


def connect(hub, connection, identity=None):
    """
    A session of C{hub} for C{connection}, as a transport would make one.
    """
    clock = connection.clock = connection.clock or Clock()
    return Admission(hub, identity, GENEROUS, clock).connect(connection)


def clientCertificate(directory, name):
    """
    A certificate whose common name is C{name}, as a TLS handshake gives it.
    """
    directory = Path(directory)
    directory.mkdir()
    issueCertificate(directory / "cert.pem", directory / "key.pem", name, client=True)
    return crypto.load_certificate(crypto.FILETYPE_PEM, (directory / "cert.pem").read_bytes())


class Chat:
    """
    A hub with accounts, and helpers to connect to it.
    """

    def __init__(self, guests=True, operators=()):
        self.clock = Clock()
        self.clock.advance(NOON)
        self.store = MemoryStore()
        accounts = Accounts(self.store, defer=maybeDeferred, now=self.clock.seconds)
        self.moderation = Moderation(self.store, self.clock.seconds, operators)
        self.moderation.load()
        self.hub = Hub(store=self.store, accounts=accounts, moderation=self.moderation,
                       now=self.clock.seconds)
        identity = Identity.forServer(self.hub, accounts=accounts, guests=guests,
                                      clock=self.clock)
        self.admission = Admission(self.hub, identity, GENEROUS, self.clock)
        self.strikes = []
        self.admission.strike = self.strikes.append

    def connect(self, *lines, host="198.51.100.9", certificate=None):
        recorder = Recorder(peer=f"{host}:4000", certificate=certificate, clock=self.clock)
        session = self.admission.connect(recorder)
        for line in lines:
            session.lineReceived(line)
        return session, recorder


class Users:
    """
    Several users logged in to one hub, by name.
    """

    def __init__(self, hub):
        self.hub = hub
        self.sessions = {}
        self.recorders = {}

    def login(self, *names):
        for name in names:
            recorder = Recorder(peer=f"198.51.100.1:{len(self.sessions) + 1000}")
            session = connect(self.hub, recorder)
            session.lineReceived(name)
            self.sessions[name] = session
            self.recorders[name] = recorder
        self.clear()

    def say(self, name, line):
        self.sessions[name].lineReceived(line)

    def lines(self, name):
        return self.recorders[name].lines()

    def clear(self):
        for recorder in self.recorders.values():
            recorder.data.clear()


class HeldStore:
    """
    A store whose answers wait until the test lets them go, to see what
    happens while the store is busy.
    """

    def __init__(self, store):
        self._store = store
        self.held = []

    def __getattr__(self, name):
        method = getattr(self._store, name)

        def held(*args):
            from twisted.internet.defer import Deferred

            d = Deferred()
            self.held.append((method, args, d))
            return d

        return held

    def release(self):
        """
        Carry out every call held so far, in order.
        """
        while self.held:
            self.step()

    def step(self):
        """
        Carry out the oldest call held.
        """
        method, args, d = self.held.pop(0)
        method(*args).chainDeferred(d)
