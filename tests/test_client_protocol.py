"""
Tests for L{globalchat.client.protocol}.
"""

from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from globalchat.client.protocol import ChatClientProtocol, PendingReplies


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
        self.lines = []
        self.lost = []
        self.protocol = ChatClientProtocol(self.lines.append, self.lost.append)
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def test_sendsLines(self):
        """
        Lines are sent as they are, LF-terminated; blank ones are not sent
        because the server would not answer them.
        """
        self.assertTrue(self.protocol.sendChatLine(b"John"))
        self.assertFalse(self.protocol.sendChatLine(b" \t"))
        self.assertTrue(self.protocol.sendChatLine(b"\xff"))
        self.assertEqual(self.transport.value(), b"John\n\xff\n")
        self.assertEqual(len(self.protocol.replies), 2)

    def test_receivesCRLF(self):
        """
        Server lines arrive as text without their line ending, and answer
        what we sent.
        """
        self.protocol.sendChatLine(b"John")
        self.protocol.dataReceived(b"Hello Good morning !!!! ::: John\r\n* Ann joined\r\n")
        self.assertEqual(self.lines, ["Hello Good morning !!!! ::: John", "* Ann joined"])
        self.assertEqual(len(self.protocol.replies), 0)

    def test_connectionLost(self):
        """
        The end of the connection is passed on.
        """
        self.protocol.connectionLost("reason")
        self.assertEqual(self.lost, ["reason"])
