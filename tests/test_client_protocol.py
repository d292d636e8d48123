"""
Tests for L{globalchat.client.protocol}.
"""

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from globalchat.client.protocol import ChatClientProtocol, Outgoing, PendingReplies


class PendingRepliesTests(SynchronousTestCase):
    """
    Matching the server's answers to the lines we sent.
    """

    def test_greetingAnswersName(self):
        """
        Whatever the greeting says, it answers the name, which becomes ours.
        """
        replies = PendingReplies()
        replies.sent(b"John")
        replies.received("Welcome aboard, John")
        self.assertEqual(len(replies), 0)
        self.assertEqual(replies.name, "John")

    def test_refusedNameTriedAgain(self):
        """
        An error answers a name without logging in; the next line is the
        next try.
        """
        replies = PendingReplies()
        replies.sent(b"J\x07")
        replies.sent(b"John")
        replies.received("ERROR control characters are not allowed")
        self.assertIsNone(replies.name)
        replies.received("Hello Good morning !!!! ::: John")
        self.assertEqual((len(replies), replies.name, replies.errors), (0, "John", 1))

    def test_ownCopyAnswersLine(self):
        """
        Our own line coming back answers it; other people's lines, even
        one that looks like ours in another room or from someone else, do
        not.
        """
        replies = PendingReplies()
        replies.sent(b"John")
        replies.received("hi John")
        replies.sent(b"  hello  ")
        replies.received("JOIN #lobby Ann")
        replies.received("MSG #lobby <Ann> hello")
        replies.received("MSG #lobby <John> something else")
        self.assertEqual(len(replies), 1)
        replies.received("MSG #dev <John> hello")
        self.assertEqual(len(replies), 0)

    def test_commandsAnsweredByOK(self):
        """
        A command is answered by its OK line, an action by its ACT copy,
        a private message by its PRIV copy, // by the message without
        one slash.
        """
        replies = PendingReplies()
        replies.sent(b"John")
        replies.received("greeting")
        for sent, answer in [(b"/who", "OK /who"), (b"/JOIN dev", "OK /join"),
                             (b"/me waves  ", "ACT #dev * John waves"),
                             (b"/msg bob  psst ", "PRIV <John> @Bob psst"),
                             (b"//etc", "MSG #dev <John> /etc")]:
            replies.sent(sent)
            replies.received("WHO #dev John")
            self.assertEqual(len(replies), 1, sent)
            replies.received(answer)
            self.assertEqual(len(replies), 0, sent)

    def test_nickFollowed(self):
        """
        After our rename, our lines come back under the new name.
        """
        replies = PendingReplies()
        replies.sent(b"John")
        replies.received("greeting")
        replies.sent(b"/nick Johnny")
        replies.sent(b"hi")
        replies.received("NICK John Johnny")
        replies.received("OK /nick")
        replies.received("MSG #lobby <Johnny> hi")
        self.assertEqual((len(replies), replies.name), (0, "Johnny"))

    def test_clientIdAcknowledges(self):
        """
        Our own copy with C{cid=} answers the line sent with that id, live
        or from history, even if older lines are unanswered; a copy
        nothing awaits (answered already) answers nothing, not even an
        identical later line.
        """
        replies = PendingReplies()
        replies.sent(b"John")
        replies.received("greeting")
        replies.sent(b"ok", "k.1")
        replies.sent(b"/who")
        replies.sent(b"ok", "k.2")
        answered = replies.received("@id=9;cid=k.2 HIST 2026-11-27T18:00:00Z MSG #lobby <John> ok")
        self.assertEqual(answered, Outgoing(b"ok", "k.2"))
        self.assertEqual(replies.received("@id=8;cid=k.1 MSG #lobby <John> ok"), Outgoing(b"ok", "k.1"))
        self.assertIsNone(replies.received("@id=8;cid=k.1 MSG #lobby <John> ok"))
        self.assertEqual(replies.takeUnanswered(), [Outgoing(b"/who")])

    def test_takeUnanswered(self):
        """
        The user's unanswered lines, not logins or passwords, are taken to
        be sent again; nothing is pending afterwards.
        """
        replies = PendingReplies()
        replies.sentLogin("John")
        replies.received("AUTH John")
        replies.sentPassword()
        replies.sent(b"hi", "k.1")
        replies.sent(b"/who")
        self.assertEqual(replies.takeUnanswered(), [Outgoing(b"hi", "k.1"), Outgoing(b"/who")])
        self.assertEqual(len(replies), 0)

    def test_refusedLoginNotCounted(self):
        """
        A name sent on the user's behalf, refused, is not one of the
        user's errors; it is answered all the same.
        """
        replies = PendingReplies()
        replies.sentLogin("John")
        replies.received("ERROR the name John is taken, choose another")
        self.assertEqual((len(replies), replies.errors, replies.name), (0, 0, None))

    def test_unsolicitedLinesIgnored(self):
        """
        Lines when nothing is pending change nothing.
        """
        replies = PendingReplies()
        replies.received("ERROR something")
        self.assertEqual((len(replies), replies.errors), (0, 0))


class ChatClientProtocolTests(SynchronousTestCase):
    """
    L{ChatClientProtocol} over a L{StringTransport}.
    """

    def setUp(self):
        self.events = []
        self.protocol = ChatClientProtocol(self)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def connectionMade(self, protocol):
        self.events.append(("made", protocol))

    def lineReceived(self, protocol, line):
        self.events.append(("line", line))

    def connectionLost(self, protocol, reason):
        self.events.append(("lost", reason))

    def test_receivesCRLF(self):
        """
        The connection is announced; server lines arrive as text, tags
        included, without their line ending.
        """
        self.protocol.dataReceived(b"@id=1 MSG #lobby <Ann> hi\r\nHello\n\xff\r\n")
        self.assertEqual(self.events, [
            ("made", self.protocol), ("line", "@id=1 MSG #lobby <Ann> hi"),
            ("line", "Hello"), ("line", "\ufffd"),
        ])

    def test_connectionLost(self):
        """
        The end of the connection is passed on.
        """
        self.protocol.connectionLost("reason")
        self.assertEqual(self.events[-1], ("lost", "reason"))
