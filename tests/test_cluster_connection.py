"""
The --cluster URL, the start-up check, and the connections to a real
redis-server: reconnecting, refusing at once while Redis is away, and
logging an outage once.
"""

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from globalchat.cluster.address import BadClusterURL, ClusterAddress, Unreachable, parseURL, probe
from globalchat.cluster.connection import Redis, RedisUnavailable
from tests.redisserver import RedisServer, freePort


def authority(directory):
    """
    A CA (ca.crt) and a certificate it signed for localhost (redis.crt,
    redis.key) in C{directory}.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from globalchat.tls import issueCertificate

    directory.mkdir(parents=True)
    issueCertificate(directory / "ca.crt", directory / "ca.key", "Test CA", authority=True)
    issuer = (x509.load_pem_x509_certificate((directory / "ca.crt").read_bytes()),
              serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None))
    issueCertificate(directory / "redis.crt", directory / "redis.key", "localhost",
                     ["localhost"], issuer=issuer)
    return directory / "ca.crt", (directory / "redis.crt", directory / "redis.key")


class ParseURLTests(SynchronousTestCase):
    def test_plain(self):
        """
        Host, port and database come from the URL; port and database have defaults.
        """
        self.assertEqual(parseURL("redis://10.0.0.5:6380/3"), ClusterAddress("10.0.0.5", 6380, 3))
        self.assertEqual(parseURL("redis://redis.internal"), ClusterAddress("redis.internal"))

    def test_password(self):
        """
        The password (and an ACL user) are read, unquoted, and never shown.
        """
        address = parseURL("redis://:s%40cret@127.0.0.1:6379/0")
        self.assertEqual(address.password, "s@cret")
        self.assertIsNone(address.username)
        self.assertEqual(parseURL("redis://chat:pw@h/0").username, "chat")
        self.assertNotIn("cret", str(address) + repr(address))
        self.assertEqual(str(address), "redis://127.0.0.1:6379/0")

    def test_tls(self):
        """
        rediss:// is Redis over TLS; ca= names a private authority.
        """
        address = parseURL("rediss://:pw@redis.example.org:6390/1?ca=/etc/redis-ca.pem")
        self.assertTrue(address.tls)
        self.assertEqual(address.ca, "/etc/redis-ca.pem")
        self.assertEqual(str(address), "rediss://redis.example.org:6390/1")

    def test_bad(self):
        """
        Each mistake gets one line saying what is wrong, without the password.
        """
        for url, expected in [
            ("http://:hunter2@host/0", "should start with redis://"),
            ("redis://:hunter2@host:port/0", "port is not a number"),
            ("redis://:hunter2@host/zero", "database must be a number"),
            ("redis://:hunter2@/0", "names no host"),
            ("redis://:hunter2@host/0?ca=x.pem", "ca= is for rediss://"),
            ("rediss://:hunter2@host/0?verify=no", "unknown parameter verify="),
        ]:
            with self.assertRaises(BadClusterURL) as caught:
                parseURL(url)
            self.assertIn(expected, str(caught.exception))
            self.assertNotIn("hunter2", str(caught.exception))

    def test_unreadableAuthority(self):
        """
        A ca= file that cannot be read is one clear line.
        """
        address = parseURL("rediss://host/0?ca=/nonexistent/ca.pem")
        with self.assertRaises(BadClusterURL) as caught:
            address.tlsOptions()
        self.assertEqual(str(caught.exception),
                         "cannot read --cluster ca=/nonexistent/ca.pem: No such file or directory")


class ProbeTests(SynchronousTestCase):
    def test_nobodyThere(self):
        """
        No Redis at the address: one line saying so and what to do.
        """
        port = freePort()
        with self.assertRaises(Unreachable) as caught:
            probe(parseURL(f"redis://:hunter2@127.0.0.1:{port}/0"))
        self.assertEqual(str(caught.exception),
                         f"cannot reach Redis at redis://127.0.0.1:{port}/0: Connection refused "
                         "(is redis-server running there? start it, or correct --cluster)")

    def test_passwords(self):
        """
        A wrong password and a missing one are told apart; the right one passes.
        """
        redis = RedisServer(self, password="right")
        where = f"Redis at redis://127.0.0.1:{redis.port}/0"
        with self.assertRaises(Unreachable) as caught:
            probe(parseURL(f"redis://:wrong@127.0.0.1:{redis.port}/0"))
        self.assertTrue(str(caught.exception).startswith(f"{where} refused the password: "),
                        str(caught.exception))
        self.assertNotIn("wrong@", str(caught.exception))
        with self.assertRaises(Unreachable) as caught:
            probe(parseURL(f"redis://127.0.0.1:{redis.port}/0"))
        self.assertEqual(str(caught.exception), f"{where} wants a password: give it as "
                                                "redis://:PASSWORD@HOST:PORT/DB")
        probe(parseURL(redis.url))

    def test_tls(self):
        """
        rediss:// checks Redis's certificate: against ?ca= it passes; against
        the system's authorities a private CA's certificate is refused, in
        one line that says where to give the CA.
        """
        from pathlib import Path

        ca, certificate = authority(Path(self.mktemp()).resolve())
        redis = RedisServer(self, password="pw", tls=certificate)
        probe(parseURL(f"{redis.url}?ca={ca}"))
        with self.assertRaises(Unreachable) as caught:
            probe(parseURL(redis.url))
        self.assertTrue(str(caught.exception).startswith(
            f"the TLS certificate of Redis at rediss://localhost:{redis.port}/0 cannot be "
            "trusted: "), str(caught.exception))
        self.assertIn("(a private authority's certificate goes in ?ca=FILE)",
                      str(caught.exception))

    def test_noSuchDatabase(self):
        """
        A database number Redis does not have is refused at start-up.
        """
        redis = RedisServer(self)
        with self.assertRaises(Unreachable) as caught:
            probe(parseURL(f"redis://127.0.0.1:{redis.port}/99"))
        self.assertIn("has no database 99", str(caught.exception))


class RedisServiceTests(TestCase):
    """
    The two connections of a node to a real redis-server.
    """

    timeout = 60

    def setUp(self):
        self.server = RedisServer(self)
        self.messages = []
        self.redis = Redis(parseURL(self.server.url), reactor,
                           lambda channel, text: self.messages.append((channel, text)))
        self.events = []

        def observe(event):
            if event.get("log_namespace", "").startswith("globalchat.cluster"):
                self.events.append(event)

        globalLogPublisher.addObserver(observe)
        self.addCleanup(globalLogPublisher.removeObserver, observe)
        self.redis.startService()
        self.addCleanup(self.redis.stopService)

    def waitUntil(self, condition, timeout=15):
        """
        Fire once C{condition()} is true, polling the reactor.
        """
        d = Deferred()
        deadline = reactor.seconds() + timeout

        def check():
            if condition():
                d.callback(None)
            elif reactor.seconds() > deadline:
                d.errback(AssertionError("condition never became true"))
            else:
                reactor.callLater(0.05, check)

        check()
        return d

    @inlineCallbacks
    def test_commandsAndMessages(self):
        """
        Once available, commands are answered and subscribed channels heard.
        """
        yield self.waitUntil(lambda: self.redis.available)
        yield self.redis.subscribe("globalchat:test")
        yield self.redis.execute("SET", "k", "välue")
        self.assertEqual((yield self.redis.execute("GET", "k")), "välue")
        self.assertEqual((yield self.redis.eval("return ARGV[1]", [], ["x"])), "x")
        yield self.redis.publish("globalchat:test", "hello")
        yield self.waitUntil(lambda: self.messages)
        self.assertEqual(self.messages, [("globalchat:test", "hello")])

    @inlineCallbacks
    def test_tls(self):
        """
        The node's connections speak TLS to a rediss:// Redis, trusting ?ca=.
        """
        from pathlib import Path

        ca, certificate = authority(Path(self.mktemp()).resolve())
        server = RedisServer(self, tls=certificate)
        redis = Redis(parseURL(f"{server.url}?ca={ca}"), reactor)
        redis.startService()
        self.addCleanup(redis.stopService)
        yield self.waitUntil(lambda: redis.available)
        self.assertEqual((yield redis.execute("PING")), "PONG")

    @inlineCallbacks
    def test_outage(self):
        """
        While Redis is away commands fail at once with RedisUnavailable; the
        outage is logged once when it starts and once when it ends, and the
        subscriptions are back afterwards.
        """
        yield self.waitUntil(lambda: self.redis.available)
        yield self.redis.subscribe("globalchat:test")
        self.server.stop()
        yield self.waitUntil(lambda: not self.redis.available)
        for _ in range(3):
            error = yield self.redis.execute("GET", "k").addErrback(lambda f: f.value)
            self.assertIsInstance(error, RedisUnavailable)
        yield deferLater(reactor, 1, lambda: None)
        self.server.start()
        yield self.waitUntil(lambda: self.redis.available)
        yield self.redis.publish("globalchat:test", "again")
        yield self.waitUntil(lambda: self.messages)
        formats = [e["log_format"] for e in self.events]
        self.assertEqual(sum("lost Redis" in f for f in formats), 1, formats)
        self.assertEqual(sum("is back after" in f for f in formats), 1, formats)
