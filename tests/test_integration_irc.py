"""
IRC clients people and bots really use, against the real C{twistd
globalchat --irc}, in the same rooms as the line port and the browser.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.ircclients import IrcBot, WeeChat, listeningPort, readUntil
from tests.processes import RawClient, Server
from tests.webclient import SocketBrowser

#: One spelling per kind of port, so that the log says which is which.
LINE, WEB, IRC = ("tcp:0:interface=127.0.0.1", "tcp:port=0:interface=127.0.0.1",
                  "tcp:interface=127.0.0.1:port=0")


class ThreeProtocolsTests(SynchronousTestCase):
    """
    One room seen from a terminal (the line port, as C{nc}), a browser
    (the web port's WebSocket) and an IRC client.
    """

    def setUp(self):
        self.server = Server(self, "--port", LINE, "--web", WEB, "--irc", IRC)
        self.linePort = self.server.ports[0]
        self.webPort = listeningPort(self.server, WEB)
        self.ircPort = listeningPort(self.server, IRC)

    def lineClient(self, name: str) -> RawClient:
        client = RawClient(self, self.linePort)
        client.send(name.encode() + b"\n")
        readUntil(client, f"JOIN #lobby {name}")
        return client

    def test_weechat(self):
        """
        WeeChat joins C{#lobby}; what it says reaches the terminal and the
        browser, and what they say reaches WeeChat.
        """
        lina = self.lineClient("Lina")
        webb = SocketBrowser(self, self.webPort)
        webb.type("Webb")
        readUntil(lina, "JOIN #lobby Webb")
        wee = WeeChat(self, self.ircPort, "Wee")
        readUntil(lina, "JOIN #lobby Wee")
        wee.waitFor("irc.gc.#lobby", "Wee")

        wee.type("irc.gc.#lobby", "hello from weechat")
        readUntil(lina, "MSG #lobby <Wee> hello from weechat")
        readUntil(webb, "MSG #lobby <Wee> hello from weechat")

        lina.send(b"hello from the terminal\n")
        webb.type("hello from the browser")
        wee.waitFor("irc.gc.#lobby", "Lina\thello from the terminal")
        wee.waitFor("irc.gc.#lobby", "Webb\thello from the browser")

    def test_botInTheLobby(self):
        """
        A bot made with the C{irc} library hears a line-port user's
        command in C{#lobby} and answers in the room and in private.
        """
        lina = self.lineClient("Lina")
        bot = IrcBot(self, self.ircPort, "Botty")
        bot.waitFor("welcome")
        bot.connection.join("#lobby")
        bot.waitFor("join", lambda e: e.target.lower() == "#lobby")
        readUntil(lina, "JOIN #lobby Botty")

        lina.send(b"!ping\n")
        heard = bot.waitFor("pubmsg")
        self.assertEqual((heard.source.nick, heard.target, heard.arguments),
                         ("Lina", "#lobby", ["!ping"]))
        bot.connection.privmsg("#lobby", "pong")
        readUntil(lina, "MSG #lobby <Botty> pong")

        lina.send(b"/msg Botty psst\n")
        private = bot.waitFor("privmsg")
        self.assertEqual((private.source.nick, private.target, private.arguments),
                         ("Lina", "Botty", ["psst"]))
        bot.connection.privmsg("Lina", "psst yourself")
        readUntil(lina, "PRIV <Botty> @Lina psst yourself")

    def test_oneNameAcrossProtocols(self):
        """
        A name taken on the line port is taken on IRC (433), and an IRC
        user's rename is seen on the line port.
        """
        lina = self.lineClient("Lina")
        bot = IrcBot(self, self.ircPort, "Lina")
        bot.waitFor("nicknameinuse")
        bot.connection.nick("Iris")
        bot.waitFor("welcome")
        bot.connection.join("#lobby")
        readUntil(lina, "JOIN #lobby Iris")
        bot.connection.nick("Irene")
        bot.waitFor("nick", lambda e: e.target == "Irene")
        readUntil(lina, "NICK Iris Irene")

    def test_saslWithAnAccountOfTheLinePort(self):
        """
        An account registered on the line port logs in from IRC with SASL
        PLAIN, and its name is then its own there too.
        """
        bea = self.lineClient("Bea")
        bea.send(b"/register correct-horse\n")
        readUntil(bea, "INFO Bea is your account now: log in with it and your password from now on")
        bea.send(b"/quit\n")
        bot = IrcBot(self, self.ircPort, "Bea", sasl_login="Bea", password="correct-horse")
        bot.waitFor("welcome")
        lina = self.lineClient("Lina")
        bot.connection.join("#lobby")
        readUntil(lina, "JOIN #lobby Bea")
