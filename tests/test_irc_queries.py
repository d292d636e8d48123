"""
Tests for L{globalchat.irc.queries}: what IRC clients ask about people,
answered about everybody, whatever protocol they use.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.ircfakes import IRCChat


class QueryTests(SynchronousTestCase):
    def setUp(self):
        self.chat = IRCChat()
        self.ann = self.chat.irc("ann", user="annu")
        self.line, self.lineOut = self.chat.connect("Cid", "/join tea")
        self.ann.send("JOIN #tea")
        self.ann.messages()

    def test_whois(self):
        """
        WHOIS shows the user, host (never an address), channels, server
        and idle time, and ends with 318; an unknown nick is 401.
        """
        self.ann.send("WHOIS Cid", "WHOIS nobody")
        messages = self.ann.messages()
        self.assertEqual([m.command for m in messages],
                         ["311", "319", "312", "317", "318", "401", "318"])
        self.assertEqual(messages[0].params[1:4], ["Cid", "~Cid", "line.users.globalchat"])
        self.assertEqual(messages[1].params[-1], "#lobby @#tea")

    def test_whoisSelf(self):
        """
        WHOIS of an IRC user shows its USER name and real name.
        """
        self.ann.send("WHOIS ann")
        first = self.ann.messages()[0]
        self.assertEqual(first.params[1:], ["ann", "~annu", "irc.users.globalchat", "*",
                                            "Real ann"])

    def test_who(self):
        """
        WHO #channel lists its members with flags; WHOX returns the fields
        asked for, with the token.
        """
        self.ann.send("WHO #tea", "WHO #tea %tnaf,42")
        messages = self.ann.messages()
        self.assertEqual([m.command for m in messages], ["352", "352", "315", "354", "354", "315"])
        self.assertEqual(messages[0].params[5:7], ["Cid", "H@"])
        self.assertEqual(messages[3].params[1:], ["42", "Cid", "H@", "0"])

    def test_isonUserhost(self):
        """
        ISON and USERHOST answer for the online names.
        """
        self.ann.send("ISON cid nobody ann", "USERHOST Cid")
        ison, userhost = self.ann.messages()
        self.assertEqual(ison.params[1], "Cid ann")
        self.assertEqual(userhost.params[1], "Cid=+~Cid@line.users.globalchat")

    def test_awayNotify(self):
        """
        AWAY sets and clears the away message (306, 305); PRIVMSG to an
        away user answers 301; away-notify clients see it change.
        """
        bob = self.chat.irc("bob", caps=["away-notify"])
        bob.send("JOIN #tea")
        bob.messages()
        self.ann.messages()
        self.ann.send("AWAY :lunch")
        self.assertEqual(self.ann.commands(), ["306"])
        self.assertEqual(bob.messages()[0].params, ["lunch"])
        bob.send("PRIVMSG ann :hi")
        self.assertEqual(bob.messages()[0].command, "301")
        self.ann.send("AWAY")
        self.assertEqual(self.ann.commands()[-1], "305")

    def test_whowas(self):
        """
        WHOWAS remembers the names of those who left.
        """
        bob = self.chat.irc("bob", user="bobu")
        bob.send("QUIT")
        self.ann.send("WHOWAS bob", "WHOWAS nobody")
        self.assertEqual([(m.command, m.params[1:3]) for m in self.ann.messages()],
                         [("314", ["bob", "~bobu"]), ("312", ["bob", "irc.globalchat"]),
                          ("369", ["bob", "End of WHOWAS"]),
                          ("406", ["nobody", "There was no such nickname"]),
                          ("369", ["nobody", "End of WHOWAS"])])

    def test_monitor(self):
        """
        MONITOR tells when a name comes online and goes, on any port.
        """
        self.ann.send("MONITOR + Cid,dee", "MONITOR L")
        self.assertEqual([m.command for m in self.ann.messages()], ["730", "731", "732", "733"])
        dee, deeOut = self.chat.connect("Dee")
        dee.lineReceived("/quit")
        self.assertEqual([(m.command, m.params[1]) for m in self.ann.messages()],
                         [("730", "Dee!~Dee@line.users.globalchat"), ("731", "Dee")])

    def test_accountNotify(self):
        """
        account-notify clients see a room member log in to an account.
        """
        bob = self.chat.irc("bob", caps=["account-notify"])
        bob.send("JOIN #tea")
        bob.messages()
        self.line.lineReceived("/register cid-password")
        self.assertEqual([(m.command, m.params) for m in bob.messages()],
                         [("ACCOUNT", ["Cid"])])

    def test_unregisteredCounted(self):
        """
        LUSERS counts connections that have not registered (253).
        """
        self.chat.irc()
        self.ann.send("LUSERS")
        unknown = [m for m in self.ann.messages() if m.command == "253"][0]
        self.assertEqual(unknown.params[1], "1")

    def test_serverQueries(self):
        """
        LUSERS, MOTD, VERSION and TIME answer with their numerics.
        """
        self.ann.send("LUSERS", "MOTD", "VERSION", "TIME")
        commands = self.ann.commands()
        self.assertEqual(commands[:7], ["251", "252", "253", "254", "255", "265", "266"])
        self.assertEqual(commands[7:9], ["422", "351"])
        self.assertEqual(commands[-1], "391")

    def test_whoMask(self):
        """
        WHO with a mask finds only those sharing a channel (everybody is
        invisible); an exact nick finds anyone.
        """
        bob = self.chat.irc("bob")
        self.ann.send("WHO bo*", "WHO bob", "WHO c*")
        self.assertEqual([m.command for m in self.ann.messages()],
                         ["315", "352", "315", "352", "315"])
        bob.send("QUIT")

    def test_killAndInfo(self):
        """
        KILL is for operators (481 otherwise); INFO answers 371 and 374.
        """
        self.ann.send("KILL Cid :go", "INFO")
        self.assertEqual(self.ann.commands(), ["481", "371", "371", "374"])

    def test_helpLinksSetname(self):
        """
        HELP answers 704-706 (524 for no such subject), SETNAME changes
        the real name for setname clients.
        """
        self.ann.send("HELP PRIVMSG", "HELPOP nonsense")
        self.assertEqual(self.ann.commands(), ["704", "706", "524"])
        bob = self.chat.irc("bob", caps=["setname"])
        bob.send("JOIN #tea")
        bob.messages()
        self.ann.send("SETNAME :Ann Other")
        self.assertEqual(bob.messages()[0].params, ["Ann Other"])
        self.assertEqual(self.ann.session.realname, "Ann Other")

    def test_bot(self):
        """
        MODE +B marks a bot: WHOIS says so (335), WHO flags it, and its
        messages carry the bot tag for message-tags clients.
        """
        bob = self.chat.irc("bob", caps=["message-tags"])
        bob.send("JOIN #tea")
        self.ann.send("MODE ann +B")
        bob.messages()
        bob.send("WHOIS ann", "WHO ann")
        messages = bob.messages()
        self.assertIn("335", [m.command for m in messages])
        self.assertEqual([m.params[6] for m in messages if m.command == "352"], ["HB"])
        self.ann.send("PRIVMSG #tea :beep")
        self.assertIn("bot", bob.messages()[0].tags)

    def test_extendedMonitor(self):
        """
        extended-monitor: a client that MONITORs a nick hears its AWAY
        changes as if it shared a channel.
        """
        eve = self.chat.irc("eve", caps=["extended-monitor", "away-notify"])
        eve.send("MONITOR + ann")
        eve.messages()
        self.ann.send("AWAY :gone")
        self.assertEqual([(m.command, m.params) for m in eve.messages()], [("AWAY", ["gone"])])
