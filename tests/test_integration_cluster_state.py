"""
Moderation on a cluster, for real: two C{twistd globalchat --cluster}
nodes on 127.0.0.1 and one real redis-server.  A ban set and a room
registered on one node hold on the other within the nodes' refresh.
"""

from __future__ import annotations

import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from globalchat.service import STATE_REFRESH
from tests.processes import Server
from tests.redisserver import RedisServer
from tests.test_integration_moderation import PASSWORD, TCP, Conversation


class ClusterModerationTests(SynchronousTestCase):
    def setUp(self) -> None:
        operators = Path(self.mktemp()).resolve()
        operators.write_text("Root\n")
        redis = RedisServer(self)
        options = ["--port", TCP, "--operators", str(operators), "--cluster", redis.url]
        self.one = Server(self, *options).ports[0]
        self.two = Server(self, *options).ports[0]

    def refused(self, port: int, name: str, line: str, expected: str) -> None:
        """
        Log in as C{name} on C{port} and say C{line} until the answer is
        C{expected}, for at most twice the nodes' refresh.
        """
        deadline = time.monotonic() + 2 * STATE_REFRESH + 5
        while True:
            chat = Conversation(self, port)
            chat.say(name)
            chat.say(line)
            answer = chat.client.readLine()
            while answer.startswith(("HELLO", "Hello", "JOIN", "HIST", "@")):
                answer = chat.client.readLine()
            if answer == expected:
                return
            self.assertLess(time.monotonic(), deadline, f"still answered {answer!r}")
            chat.client.socket.close()
            time.sleep(0.5)

    def test_banAndRoomOnEveryNode(self) -> None:
        """
        Root bans Mallory and makes #tea invite-only on node one: Mallory
        is refused on node two, and Carol cannot join #tea there.
        """
        first = Conversation(self, self.one)
        first.say("Root")
        first.upTo("JOIN #lobby Root")
        first.say(f"/register {PASSWORD}")
        first.upTo("OK /register")
        first.say("/quit")
        first.upTo("OK /quit")
        root = Conversation(self, self.one)
        root.say("Root")
        root.upTo("AUTH Root")
        root.say(PASSWORD)
        root.upTo("JOIN #lobby Root")
        root.say("/ban Mallory 1d spam")
        root.upTo("OK /ban")
        root.say("/join tea")
        root.upTo("OK /join")
        root.say("/room register")
        root.upTo("OK /room")
        root.say("/mode +i")
        root.upTo("OK /mode")
        self.refused(self.two, "Mallory", "/who",
                     "ERROR you are banned from this server: spam")
        self.refused(self.two, "Carol", "/join tea",
                     "ERROR #tea is invite-only: ask one of its operators for an /invite")
