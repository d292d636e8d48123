"""
Tests for L{globalchat.chat.bus}: names, rooms and fan-out in one
process, through L{IBus} as the hub uses it.
"""

from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from globalchat.chat.bus import IBus, LocalBus
from globalchat.chat.errors import ChatError
from globalchat.chat.hub import Hub
from globalchat.store.interface import Message
from tests.chatfakes import Recorder, connect


class Failing(Recorder):
    def write(self, data):
        raise OSError("gone")


class BusTests(SynchronousTestCase):
    def setUp(self):
        self.bus = LocalBus()
        self.hub = Hub(bus=self.bus)

    def session(self, name, connection=None):
        session = connect(self.hub, connection or Recorder())
        self.successResultOf(self.bus.claim(session, name))
        return session

    def lines(self, session):
        return session.connection.lines()

    def test_interface(self):
        """
        L{LocalBus} provides the seam another implementation replaces.
        """
        verifyObject(IBus, self.bus)

    def test_oneHolder(self):
        """
        A name, in any case, has at most one holder; renaming moves it.
        """
        ann = self.session("Ann")
        other = connect(self.hub, Recorder())
        self.failureResultOf(self.bus.claim(other, "ANN"), ChatError)
        self.successResultOf(self.bus.rename(ann, "Anna"))
        self.assertIsNone(self.bus.holder("ann"))
        self.assertIs(self.bus.holder("anna"), ann)
        self.successResultOf(self.bus.claim(other, "Ann"))
        self.assertEqual([s.name for s in self.bus], ["Anna", "Ann"])

    def test_membershipAnnounced(self):
        """
        Joining and leaving are told to the room; an empty room is gone.
        """
        ann, bob = self.session("Ann"), self.session("Bob")
        self.bus.enter(ann, "#tea")
        room, new = self.successResultOf(self.bus.enter(bob, "tea"))
        self.assertTrue(new)
        self.assertEqual(self.lines(ann), ["JOIN #tea Ann", "JOIN #tea Bob"])
        self.bus.leave(bob, room, "bye")
        self.assertEqual(self.lines(ann), ["PART #tea Bob bye"])
        self.assertEqual(self.bus.quit(ann, "later"), ["tea"])
        self.assertEqual(self.bus.rooms(), [])
        self.assertIsNone(self.bus.room("#tea"))

    def test_publishToMembersOnly(self):
        """
        A room's messages reach its members, even when one of them
        fails, and nobody else.
        """
        ann, bob = self.session("Ann"), self.session("Bob", Failing())
        cy, dee = self.session("Cy"), self.session("Dee")
        for member in (ann, bob, cy):
            self.bus.enter(member, "tea")
        self.bus.enter(dee, "coffee")
        for session in (ann, bob, cy, dee):
            session.connection.clock.advance(0)
            session.connection._data.clear()
        self.flushLoggedErrors(OSError)
        message = Message(0.0, "tea", "Ann", None, "msg", "hi", id=1)
        self.bus.publish([message], "tea")
        bob.connection.clock.advance(0)
        self.assertEqual((self.lines(ann), self.lines(cy), self.lines(dee)),
                         (["MSG #tea <Ann> hi"], ["MSG #tea <Ann> hi"], []))
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_privateOnlyToThoseLoggedIn(self):
        """
        A private message reaches sender and recipient when the recipient
        is here; otherwise nobody is sent anything.
        """
        ann, bob = self.session("Ann"), self.session("Bob")
        here = Message(0.0, None, "Ann", "bob", "priv", "psst", id=2)
        self.assertTrue(self.successResultOf(self.bus.deliverPrivate(here, "Bob", ann)))
        self.assertEqual((self.lines(ann), self.lines(bob)), (["PRIV <Ann> @Bob psst"],) * 2)
        away = Message(0.0, None, "Ann", "cy", "priv", "psst", id=3)
        self.assertFalse(self.successResultOf(self.bus.deliverPrivate(away, "Cy", ann)))
        self.assertEqual(self.lines(ann), [])
