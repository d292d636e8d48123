"""
Two cluster nodes in one process, each a hub with its own L{RedisBus},
against a real redis-server: what a user on one sees of a user on the other.
"""

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from globalchat.chat.hub import Hub
from globalchat.cluster import keys
from globalchat.cluster.bus import RedisBus
from globalchat.cluster.address import parseURL
from globalchat.cluster.connection import Redis
from globalchat.cluster.node import ClusterService
from globalchat.store.memory import MemoryStore
from tests.chatfakes import Users
from tests.redisserver import RedisServer

#: A fast heartbeat, for tests that wait for a node to be found dead.
INTERVAL, EXPIRY = 0.2, 0.6


def waitUntil(condition, timeout=10.0) -> Deferred:
    """
    Fire once C{condition()} is true, polling the reactor.
    """
    d = Deferred()
    deadline = reactor.seconds() + timeout

    def check():
        try:
            done = condition()
        except Exception:
            done = False
        if done:
            d.callback(None)
        elif reactor.seconds() > deadline:
            d.errback(AssertionError(f"never true: {condition}"))
        else:
            reactor.callLater(0.02, check)

    check()
    return d


class Node:
    """
    One node: its connection to Redis, bus, heartbeat and hub, and users.
    """

    def __init__(self, testCase, server, store):
        self.redis = Redis(parseURL(server.url), reactor)
        self.bus = RedisBus(self.redis)
        self.cluster = ClusterService(self.redis, self.bus, reactor, INTERVAL, EXPIRY)
        self.hub = Hub(bus=self.bus, store=store)
        self.users = Users(self.hub)
        self.cluster.startService()
        testCase.addCleanup(self.stop)

    def stop(self):
        if self.cluster.running:
            # What is already read from Redis is handled on the next turn.
            return self.cluster.stopService().addCallback(
                lambda _: deferLater(reactor, 0.05, lambda: None))

    def kill(self):
        """
        Stop as a killed process would: no word to Redis, no more beats.
        """
        self.cluster._beats.stop()
        self.redis.stopService()
        self.cluster.running = False


class ClusterBusTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def setUp(self):
        self.server = RedisServer(self)
        store = MemoryStore()
        self.a = Node(self, self.server, store)
        self.b = Node(self, self.server, store)
        yield waitUntil(lambda: self.a.redis.available and self.b.redis.available)

    @inlineCallbacks
    def login(self, node, *names):
        """
        Log C{names} in on C{node}, and wait until each has its greeting
        and its own arrival in the default room, which are left out.
        """
        node.users.login(*names)
        for name in names:
            yield self.expect(node, name, [f"Hello Good morning !!!! ::: {name}",
                                           f"JOIN #lobby {name}"])

    def expect(self, node, name, expected, timeout=10):
        """
        Wait until C{name} on C{node} was sent as many lines as
        C{expected}, and check (and forget) them.
        """
        recorder = node.users.recorders[name]

        def text():
            return b"".join(recorder.data).decode("utf-8").splitlines()

        def check(_):
            got = text()[:len(expected)]
            rest = "".join(line + "\r\n" for line in text()[len(expected):]).encode()
            recorder.data[:] = [rest] if rest else []
            self.assertEqual(got, expected)

        return waitUntil(lambda: len(text()) >= len(expected), timeout).addBoth(check)

    @inlineCallbacks
    def test_roomAcrossNodes(self):
        """
        A user on each node: each sees the other arrive and what they say,
        once, in order; /who and /rooms list both.
        """
        yield self.login(self.a, "Ann")
        yield self.login(self.b, "Bob")
        yield self.expect(self.a, "Ann", ["JOIN #lobby Bob"])
        self.a.users.say("Ann", "hello")
        self.a.users.say("Ann", "second")
        said = ["MSG #lobby <Ann> hello", "MSG #lobby <Ann> second"]
        yield self.expect(self.b, "Bob", said)
        yield self.expect(self.a, "Ann", said)
        self.b.users.say("Bob", "/who")
        self.b.users.say("Bob", "/rooms")
        yield self.expect(self.b, "Bob",
                          ["WHO #lobby Ann Bob", "OK /who", "ROOM #lobby 2", "OK /rooms"])

    @inlineCallbacks
    def test_joinPartTopicNick(self):
        """
        Joins, topics, renames, parts and quits on one node are told to the
        members of the room on the other.
        """
        yield self.login(self.a, "Ann")
        yield self.login(self.b, "Bob")
        yield self.expect(self.a, "Ann", ["JOIN #lobby Bob"])
        self.a.users.say("Ann", "/join tea")
        yield self.expect(self.a, "Ann", ["JOIN #tea Ann", "OK /join"])
        self.b.users.say("Bob", "/join #Tea")
        yield self.expect(self.b, "Bob", ["JOIN #tea Bob", "OK /join"])
        yield self.expect(self.a, "Ann", ["JOIN #tea Bob"])
        self.a.users.say("Ann", "/topic oolong only")
        self.a.users.say("Ann", "/nick Anna")
        yield self.expect(self.a, "Ann", ["TOPIC #tea Ann oolong only", "OK /topic",
                                          "NICK Ann Anna", "OK /nick"])
        yield self.expect(self.b, "Bob", ["TOPIC #tea Ann oolong only", "NICK Ann Anna"])
        self.b.users.say("Bob", "/part tea bye")
        yield self.expect(self.b, "Bob", ["PART #tea Bob bye", "OK /part"])
        yield self.expect(self.a, "Ann", ["PART #tea Bob bye"])
        self.b.users.say("Bob", "/quit gone")
        yield self.expect(self.a, "Ann", ["QUIT Bob gone"])

    @inlineCallbacks
    def test_nameClaimedClusterWide(self):
        """
        A name held on one node cannot be taken, in any case, on the other;
        once its holder quits, it can.
        """
        yield self.login(self.a, "Ann")
        self.b.users.login("ANN")
        yield self.expect(self.b, "ANN", ["ERROR the name ANN is taken, choose another"])
        self.a.users.say("Ann", "/quit")
        yield self.expect(self.a, "Ann", ["OK /quit"])
        yield waitUntil(lambda: self.server.command("EXISTS", keys.name("ann")) == b":0")
        yield self.login(self.b, "Ann")
        self.assertIs(self.b.bus.holder("ann"), self.b.users.sessions["Ann"])

    @inlineCallbacks
    def test_nameRace(self):
        """
        Two nodes asked for the same name at the same moment: exactly one
        gives it out.
        """
        self.a.users.login("Zed")
        self.b.users.login("zed")
        yield waitUntil(lambda: all(r.data for r in [self.a.users.recorders["Zed"],
                                                     self.b.users.recorders["zed"]]))
        first = [self.a.users.lines("Zed")[0], self.b.users.lines("zed")[0]]
        self.assertEqual(sum(line.startswith("Hello") for line in first), 1, first)
        self.assertEqual(sum(line.startswith("ERROR the name") for line in first), 1, first)

    @inlineCallbacks
    def test_privateAcrossNodes(self):
        """
        A private message reaches its recipient on the other node; the
        sender gets the same line as its answer.
        """
        yield self.login(self.a, "Ann")
        yield self.login(self.b, "Bob")
        yield self.expect(self.a, "Ann", ["JOIN #lobby Bob"])
        self.a.users.say("Ann", "/msg bob psst")
        yield self.expect(self.b, "Bob", ["PRIV <Ann> @Bob psst"])
        yield self.expect(self.a, "Ann", ["PRIV <Ann> @Bob psst"])

    @inlineCallbacks
    def test_deadNodeFreesNames(self):
        """
        A node that stops beating without a word: within the expiry its
        names can be taken on another node, and its users' rooms hear that
        they quit.
        """
        yield self.login(self.a, "Ann")
        yield self.login(self.b, "Bob")
        yield self.expect(self.a, "Ann", ["JOIN #lobby Bob"])
        self.a.kill()
        killed = reactor.seconds()
        yield self.expect(self.b, "Bob", ["QUIT Ann its server went away"])
        self.assertLess(reactor.seconds() - killed, EXPIRY + 2 * INTERVAL + 1)
        yield self.login(self.b, "Ann")
        self.assertIs(self.b.bus.holder("ann"), self.b.users.sessions["Ann"])

    @inlineCallbacks
    def test_stoppingFreesNames(self):
        """
        A node that stops frees its names at once.
        """
        yield self.login(self.a, "Ann")
        yield self.a.stop()
        self.assertEqual(self.server.command("EXISTS", keys.name("ann")), b":0")
        self.assertEqual(self.server.command("ZCARD", keys.NODES), b":1")

    @inlineCallbacks
    def test_redisOutage(self):
        """
        While Redis is away, lines, joins, renames, parts and /who are
        answered with an ERROR and the connections stay; once it is back (empty: it kept
        nothing) the nodes write their users back and chat carries on.
        """
        yield self.login(self.a, "Ann")
        yield self.login(self.b, "Bob")
        yield self.expect(self.a, "Ann", ["JOIN #lobby Bob"])
        self.server.stop()
        yield waitUntil(lambda: not self.a.redis.available)
        self.a.users.say("Ann", "anyone?")
        self.a.users.say("Ann", "/join tea")
        self.a.users.say("Ann", "/nick Anna")
        self.a.users.say("Ann", "/part")
        self.a.users.say("Ann", "/who")
        refusal = ("ERROR this server has lost touch with the rest of the chat for a moment; "
                   "nothing was done: try again shortly")
        yield self.expect(self.a, "Ann", [refusal] * 5)
        self.assertFalse(self.a.users.recorders["Ann"].closed)
        self.server.start()
        yield waitUntil(lambda: self.a.redis.available and self.b.redis.available)
        # Both nodes have written their users back.
        yield waitUntil(lambda: self.server.command("ZCARD", keys.members("lobby")) == b":2")
        self.a.users.say("Ann", "back")
        yield self.expect(self.b, "Bob", ["MSG #lobby <Ann> back"])
        self.b.users.say("Bob", "/who")
        # Written back by each node: the order of arrival is the nodes'.
        who, ok = yield self.lines(self.b, "Bob", 2)
        self.assertEqual((sorted(who.split()), ok), (["#lobby", "Ann", "Bob", "WHO"], "OK /who"))

    @inlineCallbacks
    def lines(self, node, name, count):
        """
        The next C{count} lines C{name} on C{node} is sent, once sent.
        """
        recorder = node.users.recorders[name]
        yield waitUntil(lambda: len(b"".join(recorder.data).splitlines()) >= count)
        return recorder.lines()
