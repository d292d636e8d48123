"""
The chat with real processes: three clients in two rooms, and a user with
nothing but a socket (as with C{nc}) talking to a C{globalchat-client}
user.
"""

from twisted.trial.unittest import SynchronousTestCase

from tests.processes import PipedClient, RawClient, Server, client, untagged


class RoomsTests(SynchronousTestCase):
    """
    A real server on 127.0.0.1.
    """

    def setUp(self):
        self.server = Server(self, "--port", "tcp:0:interface=127.0.0.1")
        self.port = self.server.ports[0]

    def test_threeClientsTwoRooms(self):
        """
        Ann and Bob talk in #dev, Cy stays in the lobby: each sees exactly
        the lines of the rooms it is in.
        """
        ann, bob, cy = (RawClient(self, self.port) for _ in range(3))
        for raw, name in ((ann, "Ann"), (bob, "Bob"), (cy, "Cy")):
            raw.send(name.encode() + b"\n")
            raw.readLine()
            raw.readLine()
        ann.readLines(2)
        bob.readLine()
        ann.send(b"/join dev\n")
        self.assertEqual(ann.readLines(2), ["JOIN #dev Ann", "OK /join"])
        bob.send(b"/join dev\n")
        self.assertEqual(bob.readLines(2), ["JOIN #dev Bob", "OK /join"])
        self.assertEqual(ann.readLine(), "JOIN #dev Bob")
        ann.send(b"in dev\n")
        cy.send(b"in lobby\n")
        self.assertEqual(bob.readLine(), "MSG #dev <Ann> in dev")
        self.assertEqual(ann.readLine(), "MSG #dev <Ann> in dev")
        self.assertEqual(cy.readLine(), "MSG #lobby <Cy> in lobby")
        # Ann and Bob are still in the lobby too.
        self.assertEqual(ann.readLine(), "MSG #lobby <Cy> in lobby")
        self.assertEqual(bob.readLine(), "MSG #lobby <Cy> in lobby")
        cy.send(b"/who dev\n")
        self.assertEqual(cy.readLines(2), ["WHO #dev Ann Bob", "OK /who"])

    def test_rawSocketAndClient(self):
        """
        A user typing raw lines (as in C{nc}) and a globalchat-client user
        in a pipe exchange messages and a private message.
        """
        nc = RawClient(self, self.port)
        nc.send(b"Ann\n")
        nc.readLines(2)
        script = b"hello from the client\n/msg Ann just for you\n/who\n"
        result = client("127.0.0.1", str(self.port), "--name", "John", "--raw", input=script)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(untagged(result.stdout), [
            "Hello Good morning !!!! ::: John", "JOIN #lobby John",
            "MSG #lobby <John> hello from the client", "PRIV <John> @Ann just for you",
            "WHO #lobby Ann John", "OK /who",
        ])
        self.assertEqual(nc.readLines(4), [
            "JOIN #lobby John", "MSG #lobby <John> hello from the client",
            "PRIV <John> @Ann just for you", "QUIT John connection closed",
        ])

    def test_commandLastInPipe(self):
        """
        A pipe ending with a command exits 0 once the command's (hidden)
        OK has come; its other lines are shown.
        """
        result = client("127.0.0.1", str(self.port), input=b"John\n/who\n")
        self.assertEqual((result.returncode, result.stderr), (0, b""))
        self.assertEqual(result.stdout.decode().splitlines()[-1], "#lobby: John")

    def test_clientPrintsWhileWaiting(self):
        """
        A client waiting for more input prints what others say, as it
        arrives.
        """
        ann = RawClient(self, self.port)
        ann.send(b"Ann\n")
        ann.readLines(2)
        john = PipedClient(self, "127.0.0.1", str(self.port), "--name", "John")
        john.waitFor("#lobby John joined")
        ann.send(b"are you there?\n")
        john.waitFor("#lobby <Ann> are you there?")
        self.assertEqual(john.finish(), 0, john.stderr)
