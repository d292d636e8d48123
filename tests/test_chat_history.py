"""
Tests for history in L{globalchat.chat.hub}: the backlog, C{/history},
private messages kept for the absent, tags, resuming, and the order of
answers while the store works.
"""

from twisted.internet.defer import fail
from twisted.trial.unittest import SynchronousTestCase

from globalchat.chat.hub import Hub
from globalchat.store.memory import MemoryStore
from tests.chatfakes import connect, HeldStore, Recorder, Users

#: 2026-11-27 18:00:00 UTC
NOON = 1795802400.0


class HistoryTests(SynchronousTestCase):
    """
    What was said before is shown to those who come later.
    """

    def setUp(self):
        self.hub = Hub(backlog=3, now=lambda: NOON)
        self.users = Users(self.hub)

    def test_backlogOnLogin(self):
        """
        A newcomer sees the default room's last messages, marked as
        history with their UTC time, after its own JOIN.
        """
        self.users.login("Ann")
        for i in range(5):
            self.users.say("Ann", f"line {i}")
        self.users.login("Bob")
        self.assertEqual(self.users.recorders["Bob"].lines(), [])  # cleared by login
        carl = Recorder()
        connect(self.hub, carl).lineReceived("Carl")
        self.assertEqual(carl.lines(), [
            "Hello Good morning !!!! ::: Carl",
            "JOIN #lobby Carl",
            "HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> line 2",
            "HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> line 3",
            "HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> line 4",
        ])

    def test_backlogOnJoin(self):
        """
        Joining a room shows its last messages before the OK; /history
        shows more, of any room.
        """
        self.users.login("Ann", "Bob")
        self.users.say("Ann", "/join dev")
        self.users.say("Ann", "/me builds")
        self.users.say("Ann", "green")
        self.users.say("Bob", "/join dev")
        self.assertEqual(self.users.lines("Bob"), [
            "JOIN #dev Bob",
            "HIST 2026-11-27T18:00:00Z ACT #dev * Ann builds",
            "HIST 2026-11-27T18:00:00Z MSG #dev <Ann> green",
            "OK /join",
        ])
        self.users.say("Bob", "/history lobby 1")
        self.assertEqual(self.users.lines("Bob"), ["OK /history"])
        self.users.say("Bob", "/history 1")
        self.assertEqual(self.users.lines("Bob"), [
            "HIST 2026-11-27T18:00:00Z MSG #dev <Ann> green", "OK /history"])

    def test_historyUsage(self):
        """
        /history takes at most one room and one count, in range.
        """
        self.users.login("Ann")
        for line, error in [("/history a b", "usage: /history [ROOM] [N]"),
                            ("/history 0", "/history shows 1 to 1000 messages"),
                            ("/history 1001", "/history shows 1 to 1000 messages"),
                            ("/history #bad!room", "invalid room '#bad!room'")]:
            self.users.say("Ann", line)
            self.assertTrue(self.users.lines("Ann")[0].startswith(f"ERROR {error}"), line)


class OfflineTests(SynchronousTestCase):
    """
    Private messages to someone away wait for them.
    """

    def setUp(self):
        self.hub = Hub(now=lambda: NOON)
        self.users = Users(self.hub)
        self.users.login("Ann", "Bob")
        self.users.say("Ann", "/quit")
        self.users.clear()

    def test_keptAndDeliveredOnce(self):
        """
        The sender is told the message is kept; its recipient gets it, once,
        when it next logs in.
        """
        self.users.say("Bob", "/msg ann see you tomorrow")
        self.assertEqual(self.users.lines("Bob"), [
            "INFO Ann is offline: they get your message when they next log in",
            "PRIV <Bob> @Ann see you tomorrow",
        ])
        for expected in (["HIST 2026-11-27T18:00:00Z PRIV <Bob> @Ann see you tomorrow"], []):
            ann = Recorder()
            session = connect(self.hub, ann)
            session.lineReceived("Ann")
            self.assertEqual([l for l in ann.lines() if "PRIV" in l], expected)
            session.lineReceived("/quit")

    def test_notKept(self):
        """
        When the store cannot keep the message for its recipient, the
        sender is told so, not that it is kept, and later lines still get
        their answers in order.
        """
        from twisted.internet.defer import fail

        self.hub.store.queue = lambda recipient, messageId: fail(OSError("disk full"))
        self.users.say("Bob", "/msg ann see you tomorrow")
        self.users.say("Bob", "/who")
        self.assertEqual(self.users.lines("Bob"), [
            "ERROR Ann is offline and your message could not be kept for them; "
            "send it again later",
            "WHO #lobby Bob",
            "OK /who",
        ])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    def test_unknownName(self):
        """
        A name that never logged in gets nothing kept.
        """
        self.users.say("Bob", "/msg nobody hello?")
        self.assertEqual(self.users.lines("Bob"),
                         ["ERROR no user called nobody is connected or has ever logged in here"])


class TagTests(SynchronousTestCase):
    """
    Clients that ask for tags get message ids and acknowledgements.
    """

    def setUp(self):
        self.hub = Hub(now=lambda: NOON)
        self.users = Users(self.hub)
        self.users.login("@tags Ann", "Bob")

    def test_idsOnlyForThoseWhoAsk(self):
        """
        The same message has its id for a tagged client and none for a
        plain one; the sender's client id comes back as cid.
        """
        self.users.say("@tags Ann", "@id=a.1 hello")
        self.users.say("Bob", "hi")
        self.assertEqual(self.users.lines("@tags Ann"),
                         ["@id=1;cid=a.1 MSG #lobby <Ann> hello", "@id=2 MSG #lobby <Bob> hi"])
        self.assertEqual(self.users.lines("Bob"),
                         ["MSG #lobby <Ann> hello", "MSG #lobby <Bob> hi"])

    def test_duplicateAnsweredNotResent(self):
        """
        A line re-sent with a client id already stored is answered with the
        stored copy, to its sender only.
        """
        self.users.say("@tags Ann", "@id=a.1 hello")
        self.users.clear()
        self.users.say("@tags Ann", "@id=a.1 hello")
        self.users.say("@tags Ann", "@id=a.2 /me waves")
        self.assertEqual(self.users.lines("@tags Ann"), [
            "@id=1;cid=a.1 MSG #lobby <Ann> hello", "@id=2;cid=a.2 ACT #lobby * Ann waves"])
        self.assertEqual(self.users.lines("Bob"), ["ACT #lobby * Ann waves"])

    def test_badTags(self):
        """
        A client id must be short and plain; resume needs an id.
        """
        self.users.say("@tags Ann", "@id=a/b hello")
        self.assertEqual(self.users.lines("@tags Ann"),
                         ["ERROR id= takes 1-64 letters, digits, '.', '_', '-' or ':'"])
        carl = Recorder()
        connect(self.hub, carl).lineReceived("@resume=last Carl")
        self.assertEqual(carl.lines(), ["ERROR resume= needs the id of the last message you saw"])


class ResumeTests(SynchronousTestCase):
    """
    A client that comes back gets its rooms and exactly what it missed.
    """

    def test_missedInIdOrder(self):
        """
        Back with the last id it saw, a client is put back in its rooms and
        shown what it missed there and in private, in id order, and
        nothing from before.
        """
        hub = Hub(now=lambda: NOON)
        users = Users(hub)
        users.login("@tags John", "Ann")
        users.say("@tags John", "/join dev")
        users.say("Ann", "/join dev")
        users.say("Ann", "seen")
        users.say("@tags John", "/quit")
        users.say("Ann", "missed in dev")
        users.say("Ann", "/join elsewhere")
        users.say("Ann", "not John's room")
        users.say("Ann", "/msg john missed in private")
        users.say("Ann", "/part dev")
        users.say("Ann", "/part lobby")
        users.say("Ann", "/join lobby")
        users.say("Ann", "missed in lobby")
        john = Recorder()
        connect(hub, john).lineReceived("@resume=1 John")
        self.assertEqual(john.lines(), [
            "Hello Good morning !!!! ::: John",
            "JOIN #lobby John",
            "JOIN #dev John",
            "@id=2 HIST 2026-11-27T18:00:00Z MSG #dev <Ann> missed in dev",
            "@id=4 HIST 2026-11-27T18:00:00Z PRIV <Ann> @John missed in private",
            "@id=5 HIST 2026-11-27T18:00:00Z MSG #lobby <Ann> missed in lobby",
        ])


    def test_resumeOnAnotherProcess(self):
        """
        A client whose server died without seeing it leave resumes on
        another server of the same chat (one store, as a cluster shares):
        it gets back the rooms it was in, as its last /join and /part left
        them, and what it missed; and with accounts off it can still be
        sent private messages there.
        """
        store = MemoryStore()
        first = Hub(store=store, now=lambda: NOON)
        users = Users(first)
        users.login("@tags John")
        users.say("@tags John", "/join dev")
        users.say("@tags John", "/join tmp")
        users.say("@tags John", "/part tmp")
        # The first server dies here: nobody sees John leave.
        second = Hub(store=store, now=lambda: NOON)
        others = Users(second)
        others.login("Ann")
        others.say("Ann", "/join dev")
        others.say("Ann", "missed in dev")
        others.say("Ann", "/msg John kept for you")
        self.assertEqual(others.lines("Ann")[-1:], ["PRIV <Ann> @John kept for you"])
        john = Recorder()
        connect(second, john).lineReceived("@resume=0 John")
        self.assertEqual(john.lines(), [
            "Hello Good morning !!!! ::: John",
            "JOIN #lobby John",
            "JOIN #dev John",
            "@id=1 HIST 2026-11-27T18:00:00Z MSG #dev <Ann> missed in dev",
            "@id=2 HIST 2026-11-27T18:00:00Z PRIV <Ann> @John kept for you",
        ])

    def test_resumeBounded(self):
        """
        However much a client missed, resuming shows at most the newest
        1000 messages, and says that older ones were left out.
        """
        hub = Hub(now=lambda: NOON)
        users = Users(hub)
        users.login("John", "Ann")
        users.say("John", "/quit")
        for n in range(1005):
            users.say("Ann", f"line {n}")
        john = Recorder()
        connect(hub, john).lineReceived("@resume=0 John")
        lines = john.lines()
        shown = [line for line in lines if line.startswith("@id=")]
        self.assertEqual(len(shown), 1000)
        self.assertTrue(shown[0].endswith("<Ann> line 5"))
        self.assertTrue(shown[-1].endswith("<Ann> line 1004"))
        self.assertIn("INFO you missed more than 1000 messages; here are the last 1000 "
                      "(/history ROOM N shows a room's)", lines)


class OrderTests(SynchronousTestCase):
    """
    While the store works, every client's answers keep the order of its
    lines, and nothing is shown twice.
    """

    def setUp(self):
        self.store = HeldStore(MemoryStore())
        self.hub = Hub(store=self.store, now=lambda: NOON)
        self.users = Users(self.hub)
        self.users.login("Ann", "Bob")
        self.store.release()
        self.users.clear()

    def test_commandWaitsForMessage(self):
        """
        A command sent after a message is answered after the message is
        stored and sent; a refusal too; messages are not held back.
        """
        self.users.say("Ann", "first")
        self.users.say("Ann", "/who")
        self.users.say("Ann", "bad\x01line")
        self.users.say("Ann", "second")
        self.assertEqual(self.users.lines("Ann"), [])
        self.store.release()
        self.store.release()
        self.assertEqual(self.users.lines("Ann"), [
            "MSG #lobby <Ann> first",
            "WHO #lobby Ann Bob",
            "OK /who",
            "ERROR control characters are not allowed",
            "MSG #lobby <Ann> second",
        ])

    def test_batchedDelivery(self):
        """
        Messages stored together reach each member in one write.
        """
        with self.hub.batch():
            for i in range(3):
                self.users.say("Ann", f"m{i}")
        self.store.release()
        self.assertEqual(self.users.recorders["Bob"].data, [
            b"MSG #lobby <Ann> m0\r\nMSG #lobby <Ann> m1\r\nMSG #lobby <Ann> m2\r\n"])

    def test_storedTogetherWhileBusy(self):
        """
        Messages sent while a store write is under way wait for it, then
        go to the store in one write, whoever sent them and in however many
        reads; nobody, their senders included, is shown a message before
        it is stored, and each member gets the lot in one write.
        """
        self.users.say("Ann", "first")
        self.users.say("Ann", "second")
        self.users.say("Bob", "third")
        self.assertEqual(len(self.store.held), 1)
        self.assertEqual((self.users.lines("Ann"), self.users.lines("Bob")), ([], []))
        self.store.step()
        self.assertEqual((self.users.lines("Ann"), self.users.lines("Bob")),
                         (["MSG #lobby <Ann> first"], ["MSG #lobby <Ann> first"]))
        [(_, (drafts,), _)] = self.store.held
        self.assertEqual([draft.text for draft in drafts], ["second", "third"])
        self.store.step()
        self.assertEqual(self.users.recorders["Ann"].data, [
            b"MSG #lobby <Ann> second\r\nMSG #lobby <Bob> third\r\n"])

    def test_batchNotStored(self):
        """
        When a write of messages from several senders fails, each sender
        is told so, nobody is shown them, and the next messages are stored.
        """
        self.users.say("Ann", "first")
        self.store._store.append = lambda drafts: fail(OSError("disk full"))
        self.users.say("Ann", "second")
        self.users.say("Bob", "third")
        self.users.say("Bob", "/who")
        self.store.step()
        self.users.clear()
        self.store.step()
        error = "ERROR your message could not be stored; send it again"
        self.assertEqual(self.users.lines("Ann"), [error])
        self.assertEqual(self.users.lines("Bob"), [error, "WHO #lobby Ann Bob", "OK /who"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        del self.store._store.append
        self.users.say("Bob", "fourth")
        self.store.release()
        self.assertEqual(self.users.lines("Ann"), ["MSG #lobby <Bob> fourth"])

    def test_joinWhileMessagesArrive(self):
        """
        A message stored while a joiner's backlog is read is shown to it
        once, after the backlog.
        """
        self.users.say("Ann", "/join dev")
        self.store.release()
        self.users.say("Ann", "before")
        self.store.release()
        self.users.say("Ann", "during")
        self.users.say("Bob", "/join dev")
        self.users.say("Bob", "/who")
        for _ in range(3):
            self.store.release()
        self.assertEqual(self.users.lines("Bob"), [
            "JOIN #dev Bob",
            "HIST 2026-11-27T18:00:00Z MSG #dev <Ann> before",
            "HIST 2026-11-27T18:00:00Z MSG #dev <Ann> during",
            "OK /join",
            "WHO #dev Ann Bob",
            "OK /who",
        ])

    def test_notStored(self):
        """
        A message the store refuses is answered with an error, and nobody
        sees it.
        """
        self.store._store.append = lambda drafts: fail(OSError("disk full"))
        self.users.say("Ann", "lost")
        self.store.release()
        self.assertEqual(self.users.lines("Ann"),
                         ["ERROR your message could not be stored; send it again"])
        self.assertEqual(self.users.lines("Bob"), [])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)


class HistoryAccessTests(SynchronousTestCase):
    """
    A room's history is for its members.
    """

    def setUp(self):
        self.hub = Hub(now=lambda: NOON)
        self.users = Users(self.hub)
        self.users.login("Ann", "Bob")
        self.users.say("Ann", "/join secret")
        self.users.say("Ann", "the code is 4711")
        self.users.clear()

    def test_notAMember(self):
        """
        Someone not in a room cannot read its history, and a room that is
        gone has none to read; members can.
        """
        self.users.say("Bob", "/history secret")
        self.assertEqual(self.users.lines("Bob"),
                         ["ERROR you are not in #secret: /join it to see its history"])
        self.users.say("Ann", "/history secret 1")
        self.assertEqual(self.users.lines("Ann"), [
            "HIST 2026-11-27T18:00:00Z MSG #secret <Ann> the code is 4711", "OK /history"])
        self.users.say("Ann", "/part secret")
        self.users.say("Bob", "/history secret")
        self.assertEqual(self.users.lines("Bob"),
                         ["ERROR no room #secret: /join it to create it"])

    def test_numbersInOtherScripts(self):
        """
        A count in digits of another script is not a count (and does not
        end the connection).
        """
        self.users.say("Ann", "/history ²")
        self.assertEqual(self.users.lines("Ann"),
                         ["ERROR no room #²: /join it to create it"])
        carl = Recorder()
        connect(self.hub, carl).lineReceived("@resume=² Carl")
        self.assertEqual(carl.lines(), ["ERROR resume= needs the id of the last message you saw"])
