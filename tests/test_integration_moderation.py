"""
Moderation for real: an operator named in C{--operators} bans and keeps
a room with the real C{twistd globalchat} on 127.0.0.1, and all of it is
still in force after the server is stopped and started again on the same
data directory.
"""

from __future__ import annotations

import calendar
import re
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import RawClient, Server

TCP = "tcp:0:interface=127.0.0.1"
PASSWORD = "correct-horse"
DAY = 86400


class Conversation:
    """
    A raw connection that remembers everything it read, so that a failed
    expectation shows the whole exchange.
    """

    def __init__(self, testCase: SynchronousTestCase, port: int) -> None:
        self.client = RawClient(testCase, port)
        self.transcript: list[str] = []

    def say(self, line: str) -> None:
        self.transcript.append(f"> {line}")
        self.client.send(line.encode("utf-8") + b"\r\n")

    def upTo(self, wanted: str) -> list[str]:
        """
        The lines read until C{wanted} (included); fails, with the
        transcript, if the connection ends or goes quiet first.
        """
        read = []
        while True:
            try:
                line = self.client.readLine()
            except (AssertionError, OSError) as e:
                raise AssertionError(f"never got {wanted!r} ({e}):\n"
                                     + "\n".join(self.transcript)) from None
            self.transcript.append(f"< {line}")
            read.append(line)
            if line == wanted:
                return read


class ModerationRestartTests(SynchronousTestCase):
    """
    C{twistd globalchat --operators FILE}, stopped and started again.
    """

    def setUp(self) -> None:
        self.dataDir = Path(self.mktemp()).resolve()
        operators = Path(self.mktemp()).resolve()
        operators.write_text("# the people who keep this server\nRoot\n")
        self.options = ["--port", TCP, "--operators", str(operators)]

    def start(self) -> int:
        """
        Start the server on the test's data directory; its port.
        """
        self.server = Server(self, *self.options, dataDir=self.dataDir)
        return self.server.ports[0]

    def guest(self, port: int, name: str) -> Conversation:
        """
        C{name}, logged in as a guest once the server has answered a
        command: its backlog is shown by then.  (Lines for a connection
        still being shown its backlog are held back until the backlog is
        out, and a ban closing it meanwhile loses them.)
        """
        chat = Conversation(self, port)
        chat.say(name)
        chat.upTo(f"JOIN #lobby {name}")
        chat.say("/who")
        chat.upTo("OK /who")
        return chat

    def root(self, port: int) -> Conversation:
        """
        Root, logged in to its account with its password.
        """
        chat = Conversation(self, port)
        chat.say("Root")
        chat.upTo("AUTH Root")
        chat.say(PASSWORD)
        chat.upTo("JOIN #lobby Root")
        return chat

    def test_bansAndRoomsOutliveRestart(self) -> None:
        """
        Root, an operator by the file, bans a name for a day and a network
        for a week, registers #tea, makes it invite-only and sets its
        topic.  After a restart the banned name is still refused, a guest
        still cannot join #tea, #tea is still Root's with its mode and
        topic, C{/bans} lists both bans with their end, and C{/audit}
        shows what Root did.
        """
        port = self.start()
        first = self.guest(port, "Root")
        first.say(f"/register {PASSWORD}")
        first.upTo("OK /register")
        first.say("/quit")
        first.upTo("OK /quit")

        root = self.root(port)
        mallory = self.guest(port, "Mallory")
        root.say("/ban Mallory 1d spam")
        root.upTo("OK /ban")
        mallory.upTo("ERROR you are banned from this server: spam")
        root.say("/ban 198.51.100.0/24 7d botnet")
        root.upTo("OK /ban")
        banned = time.time()
        root.say("/join tea")
        root.upTo("OK /join")
        root.say("/room register")
        self.assertEqual(root.upTo("OK /room"), ["INFO #tea is registered to you", "OK /room"])
        root.say("/mode +i")
        root.upTo("OK /mode")
        root.say("/topic Darjeeling only")
        root.upTo("OK /topic")
        self.server.stop()

        port = self.start()
        mallory = Conversation(self, port)
        mallory.say("Mallory")
        mallory.upTo("ERROR you are banned from this server: spam")
        carol = self.guest(port, "Carol")
        carol.say("/join tea")
        carol.upTo("ERROR #tea is invite-only: ask one of its operators for an /invite")

        root = self.root(port)
        root.say("/bans")
        bans = root.upTo("OK /bans")[:-1]
        self.assertEqual(sorted(re.sub(r" until [0-9T:-]+Z", "", ban) for ban in bans), [
            "INFO ban 198.51.100.0/24 (network): botnet", "INFO ban mallory (name): spam"])
        ends = {ban.split()[2]: calendar.timegm(time.strptime(
            re.search(r" until ([0-9T:-]+Z)", ban).group(1), "%Y-%m-%dT%H:%MZ")) for ban in bans}
        for mask, days in (("mallory", 1), ("198.51.100.0/24", 7)):
            # Shown to the minute: within two of when it was set, plus its length.
            self.assertLessEqual(abs(ends[mask] - (banned + days * DAY)), 120, mask)
        root.say("/join tea")
        root.upTo("OK /join")
        root.say("/room info")
        self.assertEqual(root.upTo("OK /room"),
                         ["INFO #tea: founder root; operators none; modes i", "OK /room"])
        root.say("/topic")
        self.assertEqual(root.upTo("OK /topic"),
                         ["INFO topic of #tea: Darjeeling only", "OK /topic"])
        root.say("/audit")
        actions = [re.sub(r"^INFO \S+ ", "", line) for line in root.upTo("OK /audit")[:-1]]
        self.assertEqual(actions, [
            "root ban mallory: spam", "root ban 198.51.100.0/24: botnet",
            "root room-register #tea", "root mode #tea +i"])
