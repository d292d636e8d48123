"""
Tests for L{globalchat.irc.modes}: MODE and OPER change the same room
modes and rights as the line port's commands.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.ircfakes import IRCChat


class ChannelModeTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.ann = self.chat.irc("ann")
        self.bob = self.chat.irc("bob")
        self.ann.send("JOIN #tea")
        self.bob.send("JOIN #tea")
        self.ann.messages()
        self.bob.messages()

    def test_firstJoinerIsOperator(self):
        """
        Whoever makes a channel by joining it is its operator; NAMES shows
        it with @.
        """
        self.bob.send("NAMES #tea")
        self.assertEqual(self.bob.messages()[0].params[-1], "@ann bob")

    def test_showModes(self):
        """
        MODE #channel shows its modes, always with n.
        """
        self.ann.send("MODE #tea +tk sesame", "MODE #tea")
        messages = self.ann.messages()
        self.assertEqual((messages[0].command, messages[0].params), ("MODE", ["#tea", "+tk", "sesame"]))
        self.assertEqual(messages[1].params[1:], ["#tea", "+ntk", "sesame"])

    def test_nonOperator(self):
        """
        A member who is no operator may not change modes (482).
        """
        self.bob.send("MODE #tea +i")
        self.assertEqual(self.bob.commands(), ["482"])

    def test_keyAndLimitAndInvite(self):
        """
        +k needs the key to join, +l refuses joiners past the limit, +i
        lets in only those invited; each refusal has its numeric.
        """
        cid = self.chat.irc("cid")
        self.ann.send("MODE #tea +k sesame")
        cid.send("JOIN #tea", "JOIN #tea wrong")
        self.assertEqual(cid.commands(), ["475", "475"])
        self.ann.send("MODE #tea -k+l * 2")
        cid.send("JOIN #tea")
        self.assertEqual(cid.commands(), ["471"])
        self.ann.send("MODE #tea -l+i")
        cid.send("JOIN #tea")
        self.assertEqual(cid.commands(), ["473"])
        self.ann.send("INVITE cid #tea")
        self.assertEqual([m.command for m in cid.messages()], ["INVITE"])
        cid.send("JOIN #tea")
        self.assertEqual(cid.commands()[0], "JOIN")

    def test_opAndVoice(self):
        """
        +o and +v are announced to the room (MODE to IRC clients, a notice
        on the line port) and give their rights: a moderated channel hears
        only voiced members.
        """
        line, lineOut = self.chat.connect("Dee", "/join tea")
        lineOut.lines()
        self.ann.send("MODE #tea +m")
        self.bob.send("PRIVMSG #tea :hi")
        self.assertEqual(self.bob.commands()[-1], "404")
        self.ann.send("MODE #tea +v bob")
        self.assertEqual(self.bob.messages()[0].params, ["#tea", "+v", "bob"])
        self.bob.send("PRIVMSG #tea :hi")
        self.assertEqual(lineOut.lines()[-1], "MSG #tea <bob> hi")
        self.ann.send("MODE #tea +o bob")
        self.bob.send("MODE #tea -m", "NAMES #tea")
        self.assertIn("@bob", self.bob.messages()[-2].params[-1].split())
        self.assertEqual(lineOut.lines(), ["INFO ann sets mode +o bob on #tea",
                                           "INFO bob sets mode -m on #tea"])

    def test_ban(self):
        """
        +b nick!*@* bans a name from the channel; the list shows it.
        """
        self.ann.send("MODE #tea +b cid!*@*", "MODE #tea +b")
        messages = self.ann.messages()
        self.assertEqual(messages[0].params, ["#tea", "+b", "cid!*@*"])
        self.assertEqual([m.command for m in messages[1:]], ["367", "368"])
        cid = self.chat.irc("cid")
        cid.send("JOIN #tea")
        self.assertEqual(cid.commands(), ["474"])

    def test_noExternalMessages(self):
        """
        +n (on from the start) keeps non-members silent (404); -n lets
        them speak in the channel.
        """
        cid = self.chat.irc("cid")
        cid.send("PRIVMSG #tea :from outside")
        self.assertEqual(cid.commands(), ["404"])
        self.ann.send("MODE #tea -n", "MODE #tea")
        self.assertEqual([m.params[-1] for m in self.ann.messages()][:2], ["-n", "+"])
        cid.send("PRIVMSG #tea :from outside")
        self.assertEqual(self.bob.messages()[-1].params, ["#tea", "from outside"])

    def test_unknownMode(self):
        """
        An unknown mode letter is 472.
        """
        self.ann.send("MODE #tea +z")
        self.assertEqual(self.ann.commands(), ["472"])

    def test_kick(self):
        """
        An operator kicks; others get 482; everybody sees the KICK.
        """
        self.bob.send("KICK #tea ann")
        self.assertEqual(self.bob.commands(), ["482"])
        self.ann.send("KICK #tea bob :out")
        kick = self.bob.messages()[0]
        self.assertEqual((kick.command, kick.params), ("KICK", ["#tea", "bob", "out"]))
        self.assertNotIn(self.chat.hub.bus.room("tea"), self.bob.session.rooms)

    def test_emptyChannelForgetsModes(self):
        """
        A channel nobody registered forgets its modes and operators once
        empty: the next to make it is its operator.
        """
        self.ann.send("MODE #tea +i", "PART #tea")
        self.bob.send("PART #tea", "JOIN #tea", "MODE #tea")
        messages = self.bob.messages()
        self.assertEqual(messages[-2].params[2], "+n")
        self.assertIn("@bob", [m for m in messages if m.command == "353"][0].params[-1])


class UserModeTests(SynchronousTestCase):
    def test_oper(self):
        """
        OPER with an operator account's password makes the client an
        operator (381); a wrong password is 464, a non-operator 491.
        """
        chat = IRCChat(operators=["root"])
        chat.connect("root", "/register root-password")[0].lineReceived("/quit")
        ann = chat.irc("ann")
        ann.send("OPER root nope", "OPER ann x", "OPER root root-password", "MODE ann")
        self.assertEqual([(m.command, m.params[1:]) for m in ann.messages()],
                         [("464", ["Password incorrect"]), ("491", ["No O-lines for your host"]),
                          ("381", ["You are now an IRC operator"]), ("MODE", ["+o"]),
                          ("221", ["+io"])])
        self.assertTrue(chat.moderation.isOperator(ann.session))

    def test_userModes(self):
        """
        MODE on one's own nick shows and sets +i; another's is 502.
        """
        chat = IRCChat()
        ann = chat.irc("ann")
        chat.irc("bob")
        ann.send("MODE ann", "MODE ann +i", "MODE bob +i", "MODE nobody")
        self.assertEqual(ann.commands(), ["221", "MODE", "502", "401"])

    def test_wallops(self):
        """
        WALLOPS is for operators (481) and reaches users with +w.
        """
        chat = IRCChat(operators=["root"])
        chat.connect("root", "/register root-password")[0].lineReceived("/quit")
        ann, bob = chat.irc("ann"), chat.irc("bob")
        bob.send("MODE bob +w")
        ann.send("WALLOPS :hi", "OPER root root-password")
        self.assertEqual(ann.commands()[0], "481")
        ann.send("WALLOPS :hi all")
        self.assertEqual([(m.command, m.params) for m in bob.messages()][-1],
                         ("WALLOPS", ["hi all"]))
