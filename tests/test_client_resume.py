"""
Tests for L{globalchat.client.resume}: the bookkeeping that makes a
resumed chat lose nothing and show nothing twice, without sockets.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.client.protocol import Outgoing
from globalchat.client.resume import ResumeState


class ResumeStateTests(SynchronousTestCase):
    """
    L{ResumeState}.
    """

    def test_loginLine(self):
        """
        The first login asks for tags; once logged in, the next ones resume
        after the last message shown.
        """
        state = ResumeState("k7")
        self.assertEqual(state.loginLine("John"), b"@tags John")
        state.name = "John"
        state.isNew({"id": "42"})
        self.assertEqual(state.loginLine("Johnny"), b"@resume=42 Johnny")

    def test_clientIds(self):
        """
        Stored lines get the next id of this run's prefix, once: sent again,
        they keep it.  Other commands get none.
        """
        state = ResumeState("k7")
        hello, who, action = Outgoing(b"hello"), Outgoing(b"/who"), Outgoing(b"/me waves")
        self.assertEqual(state.wireLine(hello), b"@id=k7.1 hello")
        self.assertEqual(state.wireLine(who), b"/who")
        self.assertEqual(state.wireLine(action), b"@id=k7.2 /me waves")
        self.assertEqual(state.wireLine(hello), b"@id=k7.1 hello")
        self.assertEqual((hello.clientId, who.clientId), ("k7.1", None))

    def test_randomPrefix(self):
        """
        Each run has its own prefix, so that ids never collide with those
        of an earlier run under the same name.
        """
        first, second = ResumeState(), ResumeState()
        self.assertNotEqual(first.wireLine(Outgoing(b"a")), second.wireLine(Outgoing(b"a")))

    def test_dedupe(self):
        """
        A stored message is new only if its id is above all shown so far;
        lines without an id are always new.
        """
        state = ResumeState()
        self.assertEqual(
            [state.isNew(tags) for tags in
             [{"id": "3"}, {}, {"id": "5", "cid": "x.1"}, {"id": "4"}, {"id": "5"}, {"id": "6"}]],
            [True, True, True, False, False, True],
        )
        self.assertEqual(state.lastId, 6)

    def test_requeue(self):
        """
        Unanswered lines go back before those never sent, in order.
        """
        state = ResumeState()
        state.outbox.append(Outgoing(b"c"))
        state.requeue([Outgoing(b"a", "p.1"), Outgoing(b"b")])
        self.assertEqual(list(state.outbox),
                         [Outgoing(b"a", "p.1"), Outgoing(b"b"), Outgoing(b"c")])
