"""
Test doubles for the chat logic: participants that record what they get.
"""

from zope.interface import implementer

from globalchat.chat.hub import IParticipant


@implementer(IParticipant)
class Recorder:
    """
    A participant that keeps what it is sent.
    """

    def __init__(self, peer="127.0.0.1:1", certifiedName=None):
        self.peer = peer
        self.certifiedName = certifiedName
        self.data = []
        self.closed = False

    def send(self, data):
        self.data.append(data)

    def close(self):
        self.closed = True

    def lines(self):
        """
        Everything received so far as text lines, then forget it.
        """
        text = b"".join(self.data).decode("utf-8")
        self.data.clear()
        return text.splitlines()


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
            session = self.hub.connect(recorder)
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
            method, args, d = self.held.pop(0)
            method(*args).chainDeferred(d)
