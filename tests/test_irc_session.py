"""
Tests for L{globalchat.irc.session} and the IRC port: IRC clients chat
with line-protocol clients in the same rooms, within the same limits.
"""

from twisted.internet.address import IPv4Address
from twisted.trial.unittest import SynchronousTestCase

from globalchat.irc.message import MAX_LINE, parse
from globalchat.server import ChatFactory
from tests.chatfakes import TurnTransport
from tests.ircfakes import IRCChat


class CrossProtocolTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.ann = self.chat.irc("ann")
        self.line, self.lineOut = self.chat.connect("Cid")
        self.lineOut.lines()

    def test_joinAndChat(self):
        """
        An IRC client's channel is the line port's room: each sees the
        other join and speak, as its own protocol shows it.
        """
        self.ann.send("JOIN #lobby")
        messages = self.ann.messages()
        self.assertEqual([m.command for m in messages], ["JOIN", "353", "366"])
        self.assertEqual(messages[0].source, "ann!~user@irc.users.globalchat")
        self.assertEqual(messages[1].params[-1].split(), ["Cid", "ann"])
        self.assertEqual(self.lineOut.lines(), ["JOIN #lobby ann"])
        self.line.lineReceived("hello ann")
        self.ann.send("PRIVMSG #lobby :hello \x02Cid\x02", "PRIVMSG #lobby :\x01ACTION waves\x01")
        self.assertEqual(self.lineOut.lines(),
                         ["MSG #lobby <Cid> hello ann", "MSG #lobby <ann> hello Cid",
                          "ACT #lobby * ann waves"])
        heard = self.ann.messages()
        self.assertEqual([(m.source, m.params) for m in heard],
                         [("Cid!~Cid@line.users.globalchat", ["#lobby", "hello ann"])])

    def test_privateBothWays(self):
        """
        PRIVMSG to a nick reaches a line client as PRIV, and /msg reaches
        the IRC client as PRIVMSG to its nick.
        """
        self.ann.send("PRIVMSG Cid :psst")
        self.line.lineReceived("/msg ann hi back")
        self.assertEqual(self.lineOut.lines(), ["PRIV <ann> @Cid psst", "PRIV <Cid> @ann hi back"])
        self.assertEqual([m.params for m in self.ann.messages()], [["ann", "hi back"]])

    def test_lineInjection(self):
        """
        A line-port client that sends CR LF and an IRC command inside its
        line gets nothing but text to IRC clients.
        """
        self.ann.send("JOIN #lobby")
        self.ann.messages()
        transport = TurnTransport(self.chat.clock,
                                  peerAddress=IPv4Address("TCP", "198.51.100.30", 4001))
        protocol = ChatFactory(self.chat.admission).buildProtocol(transport.getPeer())
        protocol.makeConnection(transport)
        protocol.dataReceived(b"Eve\r\n/join lobby\r\nhi\r\n:evil!e@e PRIVMSG #lobby :owned\r\n"
                              b"x\r:evil2 KICK #lobby ann\r\n")
        messages = self.ann.messages()
        self.assertEqual({m.source.partition("!")[0] for m in messages}, {"Eve"})
        self.assertEqual([m.params for m in messages if m.command == "PRIVMSG"],
                         [["#lobby", "hi"], ["#lobby", ":evil!e@e PRIVMSG #lobby :owned"]])
        self.assertIn(self.chat.hub.bus.room("lobby"), self.ann.session.rooms)

    def test_joinSeveralWhileHistoryWaits(self):
        """
        JOIN of two channels while the first one's history is still being
        read: both JOINs, NAMES and histories arrive.
        """
        from tests.chatfakes import HeldStore

        held = HeldStore(self.chat.store)
        self.chat.hub.store = held
        self.line.lineReceived("/join b")
        self.ann.send("JOIN #lobby,#b")
        held.release()
        joins = [m.params[0] for m in self.ann.messages() if m.command == "JOIN"]
        self.assertEqual(joins, ["#lobby", "#b"])

    def test_partAndQuit(self):
        """
        PART and QUIT reach the room's members; QUIT ends the connection
        with an ERROR line.
        """
        self.ann.send("JOIN #lobby")
        self.ann.send("PART #lobby :tea time", "JOIN #lobby")
        self.ann.messages()
        self.ann.send("QUIT :bye now")
        self.assertEqual(self.ann.commands(), ["ERROR"])
        self.assertTrue(self.ann.transport.disconnecting)
        self.assertEqual(self.lineOut.lines(), ["JOIN #lobby ann", "PART #lobby ann tea time",
                                                "JOIN #lobby ann", "QUIT ann Quit: bye now"])

    def test_nickChange(self):
        """
        NICK after registration renames everywhere; a taken name is 433.
        """
        self.ann.send("JOIN #lobby")
        self.ann.messages()
        self.ann.send("NICK Cid", "NICK anna")
        messages = self.ann.messages()
        self.assertEqual([m.command for m in messages], ["433", "NICK"])
        self.assertEqual((messages[1].source.partition("!")[0], messages[1].params),
                         ("ann", ["anna"]))
        self.assertEqual(self.lineOut.lines()[-1], "NICK ann anna")


class LimitTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()

    def test_unknownCommand(self):
        """
        An unknown command is 421.
        """
        ann = self.chat.irc("ann")
        ann.send("FROBNICATE now")
        self.assertEqual([(m.command, m.params[1]) for m in ann.messages()],
                         [("421", "FROBNICATE")])

    def test_inputTooLong(self):
        """
        A message over 512 bytes (tags apart) is 417, and so is a line
        over the whole limit; the next line is handled.
        """
        ann = self.chat.irc("ann")
        ann.send("PRIVMSG #a :" + "x" * 600, b"x" * (MAX_LINE + 10), "PING a")
        self.assertEqual(ann.commands(), ["417", "417", "PONG"])

    def test_invalidUTF8(self):
        """
        A PRIVMSG that is not UTF-8 is refused with FAIL INVALID_UTF8.
        """
        ann = self.chat.irc("ann")
        ann.send("JOIN #a")
        ann.messages()
        ann.send(b"PRIVMSG #a :caf\xe9", b"NOTICE #a :caf\xe9")
        self.assertEqual([m.params[:2] for m in ann.messages()], [["PRIVMSG", "INVALID_UTF8"]])

    def test_overTheRateIsDelayed(self):
        """
        Lines over the rate are not dropped but handled later, as the rate
        allows; a client that keeps flooding is cut off.
        """
        from globalchat.policy import Limits
        self.chat.admission.limits = limits = Limits(rate=10, burst=5)
        ann = self.chat.irc()
        ann.session._rules.limits = limits
        ann.send(*[f"PING {i}" for i in range(8)])
        self.assertEqual(len(ann.messages()), 5)
        self.chat.clock.advance(1)
        self.assertEqual([m.params[-1] for m in ann.messages()], ["5", "6", "7"])
        ann.send(*["PING " + "x" * 400] * 200)
        self.assertEqual(ann.messages()[-1].command, "ERROR")
        self.assertTrue(ann.transport.disconnecting)
        self.assertEqual(len(self.chat.strikes), 1)

    def test_noticeNeverAnswered(self):
        """
        NOTICE to nobody, or to a channel one is not in, gets no answer.
        """
        ann = self.chat.irc("ann")
        ann.send("NOTICE nobody :hi", "NOTICE #nowhere :hi", "NOTICE", "NOTICE x",
                 "NOTICE ann :" + "x" * 600)
        self.assertEqual(ann.messages(), [])
        early = self.chat.irc()
        early.send("NOTICE ann :before registering")
        self.assertEqual(early.messages(), [])

    def test_errorNumerics(self):
        """
        PRIVMSG's refusals are numerics.
        """
        ann = self.chat.irc("ann")
        self.chat.irc("bob").send("JOIN #b")
        ann.send("PRIVMSG nobody :hi", "PRIVMSG #b :hi", "PRIVMSG #none :hi", "PRIVMSG",
                 "PRIVMSG ann")
        self.assertEqual(ann.commands(), ["401", "404", "403", "411", "412"])


class WireTests(SynchronousTestCase):
    def test_everyLineParses(self):
        """
        Every line a registration and a chat produce is a valid message.
        """
        chat = IRCChat()
        ann = chat.irc()
        ann.send("CAP LS 302", "CAP REQ :server-time message-tags echo-message", "NICK ann",
                 "USER a 0 * :A", "CAP END", "JOIN #x", "PRIVMSG #x :hi", "TOPIC #x :t")
        data = ann.raw()
        self.assertTrue(data.endswith(b"\r\n"))
        for line in data.split(b"\r\n")[:-1]:
            self.assertLessEqual(len(parse(line).command), 10)


class TagsAndLengthTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.ann = self.chat.irc("ann", caps=["message-tags", "echo-message"])
        self.bob = self.chat.irc("bob", caps=["message-tags"])
        self.cid = self.chat.irc("cid")
        for client in (self.ann, self.bob, self.cid):
            client.send("JOIN #tea")
        for client in (self.ann, self.bob, self.cid):
            client.messages()

    def test_clientTags(self):
        """
        Client-only tags reach message-tags clients (and the echo), not
        the others.
        """
        self.ann.send("@+draft/reply=1;+x=a\\sb;server=no PRIVMSG #tea :hi")
        self.assertEqual(self.bob.messages()[0].tags, {"msgid": "1", "+draft/reply": "1",
                                                       "+x": "a b"})
        self.assertEqual(self.ann.messages()[0].tags["+x"], "a b")
        self.assertEqual(self.cid.messages()[0].tags, {})

    def test_longLineSplit(self):
        """
        A line-port message longer than an IRC line arrives whole, in
        several PRIVMSGs; an IRC client's longest is one line (cut to 512).
        """
        line, _ = self.chat.connect("Dee", "/join tea")
        self.cid.messages()
        text = " ".join(["word"] * 300)
        line.lineReceived(text)
        pieces = [m.params[1] for m in self.cid.messages() if m.command == "PRIVMSG"]
        self.assertGreater(len(pieces), 2)
        self.assertEqual(" ".join(pieces), text)
        self.ann.send("PRIVMSG #tea :" + "a" * (510 - len("PRIVMSG #tea :")))
        data = self.cid.raw()
        self.assertEqual(data.count(b"\r\n"), 1)
        self.assertLessEqual(len(data), 512)

    def test_userhostInNames(self):
        """
        userhost-in-names shows nick!user@host in NAMES.
        """
        dee = self.chat.irc("dee", caps=["userhost-in-names"])
        dee.send("NAMES #tea")
        self.assertEqual(dee.messages()[0].params[-1].split()[0],
                         "@ann!~user@irc.users.globalchat")

    def test_emptyRealname(self):
        """
        USER with an empty real name is 461.
        """
        client = self.chat.irc()
        client.send("NICK eve", "USER eve 0 * :")
        self.assertEqual(client.commands(), ["461"])

    def test_tagmsg(self):
        """
        TAGMSG passes client-only tags on at once to message-tags clients
        (with an id, echoed with echo-message); others get nothing.
        """
        self.ann.send("@+typing=active TAGMSG #tea")
        relayed = self.bob.messages()
        self.assertEqual([(m.command, m.params, m.tags["+typing"]) for m in relayed],
                         [("TAGMSG", ["#tea"], "active")])
        self.assertTrue(relayed[0].tags["msgid"].startswith("tag-"))
        self.assertEqual(self.ann.messages()[0].tags, relayed[0].tags)
        self.assertEqual(self.cid.messages(), [])
        self.ann.send("TAGMSG nobody", "TAGMSG #none")
        self.assertEqual(self.ann.commands(), ["401", "403"])
