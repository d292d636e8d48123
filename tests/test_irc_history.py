"""
Tests for L{globalchat.irc.history}: CHATHISTORY reads the store the
line port's /history reads, in a batch.
"""

from twisted.trial.unittest import SynchronousTestCase

from globalchat.irc.history import pick
from globalchat.store.interface import Message
from tests.ircfakes import IRCChat

CAPS = ["batch", "server-time", "message-tags", "draft/chathistory"]


class PickTests(SynchronousTestCase):
    messages = [Message(100.0 + i, "a", "x", None, "msg", str(i), id=i) for i in range(1, 11)]

    def ids(self, sub, refs, limit):
        return [m.id for m in pick(sub, self.messages, refs, limit)]

    def test_selections(self):
        """
        Each subcommand selects by message id or time, oldest first.
        """
        self.assertEqual(self.ids("LATEST", ["*"], 3), [8, 9, 10])
        self.assertEqual(self.ids("LATEST", ["msgid=8"], 5), [9, 10])
        self.assertEqual(self.ids("BEFORE", ["msgid=5"], 2), [3, 4])
        self.assertEqual(self.ids("AFTER", ["timestamp=1970-01-01T00:01:45.000Z"], 2), [6, 7])
        self.assertEqual(self.ids("AROUND", ["msgid=5"], 4), [3, 4, 5, 6])
        self.assertEqual(self.ids("BETWEEN", ["msgid=2", "msgid=6"], 10), [3, 4, 5])
        self.assertEqual(self.ids("BETWEEN", ["msgid=9", "msgid=2"], 2), [7, 8])


class ChathistoryTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.ann = self.chat.irc("ann", caps=CAPS)
        self.ann.send("JOIN #tea")
        line, _ = self.chat.connect("Cid", "/join tea", "one", "two", "three")
        self.ann.messages()

    def test_latest(self):
        """
        LATEST gives the last messages in a chathistory batch, with their
        ids and times; a message from the line port is a PRIVMSG.
        """
        self.ann.send("CHATHISTORY LATEST #tea * 2")
        start, first, second, end = self.ann.messages()
        self.assertEqual(start.params[1:], ["chathistory", "#tea"])
        self.assertEqual([first.params, second.params], [["#tea", "two"], ["#tea", "three"]])
        self.assertEqual(first.tags["batch"], start.params[0][1:])
        self.assertIn("msgid", first.tags)
        self.assertIn("time", first.tags)
        self.ann.send(f"CHATHISTORY BEFORE #tea msgid={first.tags['msgid']} 10")
        self.assertEqual([m.params for m in self.ann.messages()[1:-1]], [["#tea", "one"]])

    def test_refusals(self):
        """
        A channel one is not in, a bad reference or subcommand is a FAIL.
        """
        self.chat.irc("bob").send("JOIN #other")
        self.ann.send("CHATHISTORY LATEST #other * 10", "CHATHISTORY BEFORE #tea nonsense 10",
                      "CHATHISTORY FROB #tea * 1", "CHATHISTORY LATEST #tea * x")
        self.assertEqual([m.params[:2] for m in self.ann.messages()],
                         [["CHATHISTORY", "INVALID_TARGET"], ["CHATHISTORY", "INVALID_PARAMS"],
                          ["CHATHISTORY", "UNKNOWN_COMMAND"], ["CHATHISTORY", "INVALID_PARAMS"]])

    def test_targets(self):
        """
        TARGETS lists the channels with messages in the time range.
        """
        self.ann.send("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z "
                      "timestamp=2262-01-01T00:00:00.000Z 10")
        messages = self.ann.messages()
        self.assertEqual(messages[0].params[1], "draft/chathistory-targets")
        self.assertEqual(messages[1].params[:2], ["TARGETS", "#tea"])

    def test_noBacklogOnJoin(self):
        """
        A client with chathistory is not shown a backlog on JOIN; one
        without it is, as history with its time.
        """
        self.ann.send("PART #tea", "JOIN #tea")
        self.assertNotIn("PRIVMSG", self.ann.commands())
        bob = self.chat.irc("bob")
        bob.send("JOIN #tea")
        shown = [m.params[1] for m in bob.messages() if m.command == "PRIVMSG"]
        self.assertEqual(len(shown), 3)
        self.assertTrue(shown[0].startswith("[") and shown[0].endswith("] one"))


class LabelTests(SynchronousTestCase):
    def test_labels(self):
        """
        labeled-response: one answer carries the label, several come in a
        labelled batch, none is an ACK, and an echoed message carries it.
        """
        chat = IRCChat()
        ann = chat.irc("ann", caps=["labeled-response", "batch", "echo-message"])
        ann.send("@label=a1 PING x")
        pong = ann.messages()[0]
        self.assertEqual((pong.command, pong.tags), ("PONG", {"label": "a1"}))
        ann.send("@label=a2 JOIN #tea")
        messages = ann.messages()
        self.assertEqual([m.command for m in messages], ["BATCH", "JOIN", "353", "366", "BATCH"])
        self.assertEqual(messages[0].tags, {"label": "a2"})
        ann.send("@label=a3 PONG x")
        self.assertEqual([(m.command, m.tags) for m in ann.messages()], [("ACK", {"label": "a3"})])
        ann.send("@label=a4 PRIVMSG #tea :hi")
        echo = ann.messages()
        self.assertEqual([(m.command, m.tags.get("label")) for m in echo], [("PRIVMSG", "a4")])

    def test_labelledEchoes(self):
        """
        A labelled PRIVMSG to several users is echoed in one labelled
        batch; one to itself comes as a labelled echo and a delivery.
        """
        chat = IRCChat()
        caps = ["labeled-response", "batch", "echo-message"]
        ann = chat.irc("ann", caps=caps)
        bob, cid = chat.irc("bob", caps=caps), chat.irc("cid")
        ann.send("@label=m1 PRIVMSG bob,cid :hi")
        echoes = ann.messages()
        self.assertEqual([m.command for m in echoes], ["BATCH", "PRIVMSG", "PRIVMSG", "BATCH"])
        self.assertEqual(echoes[0].tags, {"label": "m1"})
        self.assertEqual(bob.messages()[0].tags, {})
        cid.messages()
        ann.send("@label=m2 PRIVMSG ann :me")
        mine = ann.messages()
        self.assertEqual([(m.command, m.tags.get("label")) for m in mine],
                         [("PRIVMSG", "m2"), ("PRIVMSG", None)])
        cid.send("PRIVMSG cid :note to self")
        self.assertEqual([m.params for m in cid.messages()], [["cid", "note to self"]])

    def test_labelWaitsForTheAnswer(self):
        """
        A labelled command whose answer comes later (a nick change waits
        for the accounts) is labelled once it is all there.
        """
        from twisted.internet.defer import Deferred

        chat = IRCChat()
        ann = chat.irc("ann", caps=["labeled-response", "batch"])
        found = Deferred()
        chat.hub.accounts.find = lambda name: found
        ann.send("@label=n1 NICK anna")
        self.assertEqual(ann.messages(), [])
        found.callback(None)
        nick = ann.messages()[0]
        self.assertEqual((nick.command, nick.tags), ("NICK", {"label": "n1"}))
