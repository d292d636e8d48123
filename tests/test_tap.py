"""
Tests for L{globalchat.tap}: the options of C{twistd globalchat} and the
service they build, on a L{MemoryReactor}.
"""

import importlib.util
import errno
from pathlib import Path

from twisted.application.service import IServiceMaker
from twisted.internet.address import IPv4Address
from twisted.internet.defer import succeed
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock, _FakePort
from twisted.logger import formatEvent, globalLogPublisher
from twisted.plugin import getPlugins
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from globalchat.chat import names
from globalchat.heap import QuietCollector
from globalchat import service, startup, stateloader, tap, tls
from globalchat.store.memory import MemoryStore
from globalchat.store.service import HistoryService
from globalchat.store.sqlite import MessageStore
from globalchat.expose import probe
from globalchat.expose.mapper import PortMapperService
from globalchat.expose.path import Path as NetworkPath
from tests.test_expose_mapper import FakeMapper, mapping


def listeners(service):
    """
    The listening services of C{service}, in the order of C{--port}.
    """
    return [child for child in service if isinstance(child, startup.ListeningService)]


class OptionsTests(SynchronousTestCase):
    """
    Parsing C{twistd globalchat} options.
    """

    def parse(self, *argv):
        options = tap.Options()
        options.parseOptions(list(argv))
        return options

    def test_defaults(self):
        """
        With no options the server listens on tcp:12345 with the seed's
        greeting and 4096-byte lines.
        """
        options = self.parse()
        self.assertEqual(options["ports"], ["tcp:12345"])
        self.assertEqual(options["greeting"], "Hello Good morning !!!! ::: {name}")
        self.assertEqual(options["max-line-length"], 4096)
        self.assertEqual(options["data-dir"], Path("globalchat-data"))

    def test_repeatablePort(self):
        """
        C{--port} (or C{-p}) may be given several times.
        """
        options = self.parse("--port", "tcp:1", "-p", "ssl:2", "--port=unix:/tmp/x")
        self.assertEqual(options["ports"], ["tcp:1", "ssl:2", "unix:/tmp/x"])

    def test_badMaxLineLength(self):
        """
        A max line length that is not a positive number stops the server
        with one line naming the option.
        """
        for value in ("0", "-5", "lots", "99999999999"):
            e = self.assertRaises(tap.StartupError, self.parse, "--max-line-length", value)
            self.assertIn("--max-line-length must be a whole number", str(e))

    def test_badGreeting(self):
        """
        A greeting with an unknown placeholder is refused at start, not
        at the first login.
        """
        for value in ("Hi {nick}", "Hi {0}", "Hi {"):
            e = self.assertRaises(tap.StartupError, self.parse, "--greeting", value)
            self.assertIn("--greeting", str(e))
            self.assertTrue(str(e).startswith("globalchat: "))

    def test_accountsAndOperators(self):
        """
        --accounts takes on, required or off; --operators reads account
        names, one a line, and names a bad file or line in one line.
        """
        self.assertEqual(self.parse()["accounts"], "on")
        e = self.assertRaises(tap.StartupError, self.parse, "--accounts", "maybe")
        self.assertEqual(str(e), "globalchat: --accounts is one of on, required, off, not 'maybe'")
        operators = Path(self.mktemp())
        operators.write_text("# who keeps order\nAnn\n\nbob\n", encoding="utf-8")
        self.assertEqual(self.parse("--operators", str(operators))["operators"], ["Ann", "bob"])
        e = self.assertRaises(tap.StartupError, self.parse, "--operators", "/no/such/file")
        self.assertIn("cannot read --operators /no/such/file", str(e))
        operators.write_text("not a name\n", encoding="utf-8")
        e = self.assertRaises(tap.StartupError, self.parse, "--operators", str(operators))
        self.assertIn(f"--operators {operators}: invalid name 'not a name'", str(e))
        e = self.assertRaises(tap.StartupError, self.parse, "--operators", str(operators),
                              "--accounts", "off")
        self.assertIn("--operators needs accounts", str(e))

    def test_roomAndMotd(self):
        """
        The default room is checked and the MOTD file read at start.
        """
        motd = Path(self.mktemp())
        motd.write_text("Welcome.\nBe nice.\n", encoding="utf-8")
        options = self.parse("--default-room", "#hall", "--motd", str(motd))
        self.assertEqual((options["default-room"], options["motd"]), ("#hall", ["Welcome.", "Be nice."]))
        e = self.assertRaises(tap.StartupError, self.parse, "--default-room", "bad room")
        self.assertIn("--default-room: invalid room", str(e))
        e = self.assertRaises(tap.StartupError, self.parse, "--motd", "/no/such/motd")
        self.assertIn("cannot read --motd /no/such/motd", str(e))
        motd.write_text("\x1b[2J\n")
        self.assertRaises(tap.StartupError, self.parse, "--motd", str(motd))
        motd.write_bytes(b"\xff\n")
        e = self.assertRaises(tap.StartupError, self.parse, "--motd", str(motd))
        self.assertEqual(str(e), f"globalchat: cannot read --motd {motd}: it is not UTF-8 text")
        e = self.assertRaises(tap.StartupError, self.parse, "--default-room", "a", "b")
        self.assertIn("unexpected argument 'b'", str(e))

    def test_badEndpointNamesTheMistake(self):
        """
        An endpoint that cannot be parsed is refused while the options are
        read, in words naming what is wrong and what a good one looks
        like, before the data directory or the history is made.
        """
        dataDir = Path(self.mktemp())
        for port, reason in [
            ("tcp:abc", "'abc' is not a number"),
            ("bogus:1", "unknown endpoint type 'bogus'"),
            ("tcp:1:foo=bar", "it has no foo= parameter"),
            ("tcp:99999", "port 99999 is not from 0 to 65535"),
            ("ssl:abc", "'abc' is not a number"),
            ("ssl:1:privateKey=/no/such.pem", "cannot read /no/such.pem: No such file"),
        ]:
            e = self.assertRaises(tap.StartupError, self.parse, "--data-dir", str(dataDir),
                                  "--port", port)
            self.assertTrue(str(e).startswith(f"globalchat: bad --port {port!r}: {reason}"), str(e))
            self.assertNotIn("int()", str(e))
        self.assertIn("it should look like tcp:12345", str(
            self.assertRaises(tap.StartupError, self.parse, "--port", "tcp:abc")))
        self.assertFalse(dataDir.exists())

    def test_unknownOption(self):
        """
        A mistyped option is one line: the error, the option probably
        meant, and where the help is; not the whole help.
        """
        e = self.assertRaises(tap.StartupError, self.parse, "--portt", "tcp:1")
        self.assertEqual(str(e), "globalchat: option --portt not recognized; did you mean "
                                 "--port? (see twistd globalchat --help)")
        e = self.assertRaises(tap.StartupError, self.parse, "--zzz")
        self.assertEqual(str(e), "globalchat: option --zzz not recognized "
                                 "(see twistd globalchat --help)")

    def test_helpText(self):
        """
        The help has no runs of spaces inside sentences, and says where
        lines go now that there are rooms.
        """
        options = tap.Options()
        for name, doc in options.docs.items():
            self.assertNotIn("  ", doc or "", name)
        self.assertIn("network (repeatable; default: from", options.getUsage(width=200))
        self.assertNotIn("everyone connected", options.getUsage())
        self.assertIn("room", options.longdesc)

    def test_startupErrorExitsNonZero(self):
        """
        A L{tap.StartupError} ends twistd with status 1 and its message.
        """
        e = tap.StartupError("boom")
        self.assertIsInstance(e, SystemExit)
        self.assertEqual(e.code, "globalchat: boom")


class MakeServiceTests(SynchronousTestCase):
    """
    L{tap.makeService} builds one listener per C{--port}.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.dataDir = Path(self.mktemp())

    def service(self, *argv):
        options = tap.Options()
        options.parseOptions(["--data-dir", str(self.dataDir), "--no-history", *argv])
        return tap.makeService(options, reactor=self.reactor)

    def test_onePerPort(self):
        """
        Every endpoint is listened on with the same factory and its hub.
        """
        service = self.service("--port", "tcp:1234", "--port", "tcp6:5678")
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        ports = [(port, interface) for port, _, _, interface in self.reactor.tcpServers]
        self.assertEqual(ports, [(1234, ""), (5678, "::")])
        factories = {factory for _, factory, _, _ in self.reactor.tcpServers}
        self.assertEqual(len(factories), 1)

    def test_webPorts(self):
        """
        Every --web endpoint serves one site whose chat is the line ports'
        (one admission: per-address counts and bans are shared); its
        options are checked like --port's.
        """
        service = self.service("--port", "tcp:1234", "--web", "tcp:8080", "--web", "tcp:8081",
                               "--trust-proxy", "127.0.0.1",
                               "--web-origin", "https://chat.example.org")
        service.privilegedStartService()
        self.addCleanup(service.stopService)
        chat, *sites = [factory for _, factory, _, _ in self.reactor.tcpServers]
        self.assertEqual([port for port, _, _, _ in self.reactor.tcpServers], [1234, 8080, 8081])
        self.assertIs(sites[0], sites[1])
        self.assertIs(sites[0].admission, chat.admission)
        self.assertEqual(sites[0].gate.origins, {"https://chat.example.org"})
        e = self.assertRaises(tap.StartupError, self.service, "--web", "tcp:x")
        self.assertIn("bad --web 'tcp:x'", str(e))
        e = self.assertRaises(tap.StartupError, self.service, "--web-origin", "chat.example.org")
        self.assertIn("--web-origin: 'chat.example.org' is not an origin", str(e))

    def test_ircPorts(self):
        """
        Every --irc endpoint serves IRC into the line ports' chat (one
        admission); an ssl: one gets the server's certificate; its options
        are checked like --port's.
        """
        from globalchat.irc.transport import IRCFactory

        service = self.service("--port", "tcp:1234", "--irc", "tcp:6667", "--irc", "ssl:6697")
        service.privilegedStartService()
        self.addCleanup(service.stopService)
        chat, irc = [factory for _, factory, _, _ in self.reactor.tcpServers]
        self.assertEqual([port for port, _, _, _ in self.reactor.tcpServers], [1234, 6667])
        self.assertIsInstance(irc, IRCFactory)
        self.assertIs(irc.admission, chat.admission)
        [(port, factory, _, _, _)] = self.reactor.sslServers
        self.assertEqual(port, 6697)
        self.assertIs(factory, irc)
        self.assertTrue((self.dataDir / "server.crt").exists())
        e = self.assertRaises(tap.StartupError, self.service, "--irc", "tcp:x")
        self.assertIn("bad --irc 'tcp:x'", str(e))
        self.assertEqual(irc.server.name, "irc.globalchat")
        e = self.assertRaises(tap.StartupError, self.service, "--irc-name", "no dots")
        self.assertIn("--irc-name must be a host name", str(e))

    def test_listenBacklog(self):
        """
        TCP ports get a listen queue long enough for a crowd connecting at
        once, unless the endpoint names its own.
        """
        service = self.service("--port", "tcp:1234", "--port", "tcp:1235:backlog=7")
        service.privilegedStartService()
        self.addCleanup(service.stopService)
        self.assertEqual([backlog for _, _, backlog, _ in self.reactor.tcpServers],
                         [startup.LISTEN_BACKLOG, 7])
        self.assertEqual(startup.withBacklog("unix:/run/chat.sock"), "unix:/run/chat.sock")

    def test_sslMakesCertificate(self):
        """
        An C{ssl:} endpoint without a key gets the data directory's
        certificate, created on first use; its fingerprint is logged.
        """
        logged = []
        from twisted.logger import globalLogPublisher

        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        service = self.service("--port", "ssl:4433")
        service.privilegedStartService()
        self.addCleanup(service.stopService)
        self.assertEqual(self.reactor.sslServers[0][0], 4433)
        cert = self.dataDir / tls.CERTIFICATE_FILE
        self.assertTrue(cert.exists())
        fingerprints = [e["fingerprint"] for e in logged if "fingerprint" in e]
        self.assertEqual(fingerprints, [tls.fingerprint(cert.read_bytes())])

    def test_explicitKeyUsed(self):
        """
        An C{ssl:} endpoint naming its key is used as given and no
        certificate is made in the data directory.
        """
        cert, key, _ = tls.ensureCertificate(Path(self.mktemp()))
        self.service("--port", f"ssl:4433:privateKey={key}:certKey={cert}")
        self.assertFalse(self.dataDir.exists())

    def test_onionEndpoint(self):
        """
        With the C{tor} extra installed, C{--port onion:PORT} is accepted:
        txtorcon's endpoint is made, talking to Tor's control port (no Tor
        network is used here).
        """
        if importlib.util.find_spec("txtorcon") is None:
            raise SkipTest("txtorcon (pip install globalchat[tor]) is not installed")
        service = self.service("--port", "onion:12345:controlPort=9051")
        self.assertEqual(listeners(service)[0].endpoint.public_port, 12345)

    def test_badEndpoint(self):
        """
        An endpoint Twisted cannot parse stops the server with one line
        naming it.
        """
        e = self.assertRaises(tap.StartupError, self.service, "--port", "bogus:12")
        self.assertIn("bad --port 'bogus:12'", str(e))

    def test_missingKey(self):
        """
        A key file that cannot be read stops the server with one line.
        """
        e = self.assertRaises(
            tap.StartupError, self.service, "--port", "ssl:1:privateKey=/nonexistent.pem"
        )
        self.assertIn("/nonexistent.pem", str(e))

    def test_brokenCertificate(self):
        """
        A file that is not a certificate stops the server with one line.
        """
        bad = Path(self.mktemp())
        bad.write_text("not a certificate")
        e = self.assertRaises(
            tap.StartupError, self.service, "--port", f"ssl:1:privateKey={bad}"
        )
        self.assertIn("not a PEM key and certificate", str(e))

    def test_boundWhileBuilt(self):
        """
        Socket endpoints are listened on while the service is built, which
        twistd does before it forks into the background; starting the
        service does not listen again, and what waits for the port gets
        it.
        """
        service = self.service("--port", "tcp:1234")
        self.assertEqual([port for port, _, _, _ in self.reactor.tcpServers], [1234])
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(len(self.reactor.tcpServers), 1)
        port = self.successResultOf(listeners(service)[0].whenListening())
        self.assertEqual(port.getHost().port, 1234)

    def test_cannotListen(self):
        """
        A port that cannot be bound (already in use) stops the server
        while it is built, with one line naming the endpoint, what is
        wrong and what to do.
        """
        def listenTCP(port, factory, backlog, interface):
            raise CannotListenError(interface, port, OSError(errno.EADDRINUSE, "Address already in use"))

        self.patch(self.reactor, "listenTCP", listenTCP)
        e = self.assertRaises(tap.StartupError, self.service, "--port", "tcp:1")
        self.assertEqual(str(e), "globalchat: cannot listen on tcp:1: Address already in use "
                                 "(another program, perhaps another globalchat, listens there: "
                                 "stop it or choose another --port)")

    def test_metricsOffByDefault(self):
        """
        Without --metrics nothing listens but the chat's ports.
        """
        self.service("--port", "tcp:1234")
        self.assertEqual([port for port, _, _, _ in self.reactor.tcpServers], [1234])

    def test_metricsListen(self):
        """
        --metrics listens on its endpoint, after the chat's ports, with a
        site that serves /metrics.
        """
        service = self.service("--port", "tcp:1234", "--metrics", "tcp:9100:interface=127.0.0.1")
        self.assertEqual([(port, interface) for port, _, _, interface in self.reactor.tcpServers],
                         [(1234, ""), (9100, "127.0.0.1")])
        self.assertEqual(listeners(service)[-1].description, "--metrics tcp:9100:interface=127.0.0.1")
        site = self.reactor.tcpServers[-1][1]
        self.assertIn(b"metrics", site.resource.children)

    def test_badMetricsEndpoint(self):
        """
        A --metrics endpoint Twisted cannot parse stops the server with
        one line naming it.
        """
        e = self.assertRaises(tap.StartupError, self.service, "--metrics", "bogus:12")
        self.assertIn("bad --metrics 'bogus:12'", str(e))


class HistoryOptionsTests(SynchronousTestCase):
    """
    Where the history is kept, how much of it, and what a joiner sees.
    """

    def makeService(self, *argv):
        options = tap.Options()
        options.parseOptions(list(argv))
        return tap.makeService(options, reactor=MemoryReactorClock())

    def history(self, service):
        [history] = [c for c in service if isinstance(c, HistoryService)]
        return history

    def test_defaults(self):
        """
        History is kept in the data directory, 100 000 messages a room, and
        a joiner sees the last 20.
        """
        directory = Path(self.mktemp())
        service = self.makeService("--data-dir", str(directory))
        self.assertIsInstance(self.history(service).store, MessageStore)
        self.assertTrue((directory / startup.HISTORY_FILE).exists())
        hub = listeners(service)[0].factory.admission.hub
        self.assertEqual((hub.backlog, hub.store), (20, self.history(service).store))

    def test_readyBeforeTheFirstLogin(self):
        """
        The look-alike table is read as the server is made, so that the
        first login neither waits for it nor has its memory counted; the
        collector settings come with the server, last.
        """
        names._prototypes.cache_clear()
        service = self.makeService("--data-dir", self.mktemp(), "--no-history")
        self.assertEqual(names._prototypes.cache_info().currsize, 1)
        self.assertIsInstance(list(service)[-1], QuietCollector)

    def test_noHistory(self):
        """
        --no-history keeps messages in memory and writes no file.
        """
        directory = Path(self.mktemp())
        service = self.makeService("--data-dir", str(directory), "--no-history", "--backlog", "0")
        self.assertIsInstance(self.history(service).store, MemoryStore)
        self.assertFalse(directory.exists())
        self.assertEqual(listeners(service)[0].factory.admission.hub.backlog, 0)

    def test_badValues(self):
        """
        Retention and backlog take whole numbers in range.
        """
        for argv in (["--backlog", "-1"], ["--backlog", "many"], ["--history-max", "0"],
                     ["--history-days", "0"], ["--history-days", "1.5"]):
            e = self.assertRaises(tap.StartupError, tap.Options().parseOptions, argv)
            self.assertIn(argv[0], str(e))

    def test_unusableDatabase(self):
        """
        A history file that is not a database stops the server with one
        line naming it, before anything listens, and is left as it was.
        """
        directory = Path(self.mktemp())
        directory.mkdir()
        (directory / startup.HISTORY_FILE).write_bytes(b"not a database" * 200)
        e = self.assertRaises(tap.StartupError, self.makeService, "--data-dir", str(directory))
        self.assertIn(str(directory / startup.HISTORY_FILE), str(e))
        self.assertNotIn("\n", str(e))
        self.assertEqual((directory / startup.HISTORY_FILE).read_bytes(), b"not a database" * 200)


class PluginTests(SynchronousTestCase):
    """
    The twistd drop-in.
    """

    def test_discovered(self):
        """
        twistd finds C{globalchat} among its plugins, pointing at
        L{globalchat.tap}.
        """
        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertIn("globalchat", makers)
        self.assertIs(makers["globalchat"].options, tap.Options)


class ExposeTests(SynchronousTestCase):
    """
    C{--expose} hands every bound TCP port to the port mapper.
    """

    def setUp(self):
        self.reactor = MemoryReactorClock()
        self.gateway = FakeMapper("NAT-PMP", [mapping(external=1234), mapping(external=4433),
                                              mapping(external=6667)])
        self.patch(service, "gatewayMethods", lambda reactor, gateway: [
            ("NAT-PMP", lambda: succeed(self.gateway))
        ])
        # The path check sends datagrams: not from the unit tests.
        self.targets = []
        self.patch(service, "pathChecker", lambda reactor, target: lambda: succeed(
            self.targets.append(target) or NetworkPath(target, ("10.0.0.1", target), reached=True)))
        self.logged = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def messages(self):
        return [formatEvent(e) for e in self.logged]

    def test_options(self):
        """
        The lease is a positive number and the gateway an IP address.
        """
        options = tap.Options()
        options.parseOptions(["--expose", "--gateway", "10.0.0.1", "--expose-lease", "600"])
        self.assertEqual((options["expose"], options["gateway"], options["expose-lease"]),
                         (True, "10.0.0.1", 600))
        for argv in (["--gateway", "router.lan"], ["--expose-lease", "0"]):
            self.assertRaises(tap.StartupError, tap.Options().parseOptions, argv)

    def test_verifyOptions(self):
        """
        C{--verify-via} repeats (port 12345 when none is given) and
        C{--path-target} takes an IPv4 address; bad values stop start-up
        with the option's name.
        """
        options = tap.Options()
        options.parseOptions(["--verify-via", "45.33.32.2", "--verify-via", "friend.example:4000",
                              "--path-target", "45.33.32.2"])
        self.assertEqual(options["verify-via"], [("45.33.32.2", 12345), ("friend.example", 4000)])
        self.assertEqual(options["path-target"], "45.33.32.2")
        self.assertEqual(tap.Options()["path-target"], "1.1.1.1")
        for argv, start in ((["--verify-via", "h:x"], "--verify-via: expected HOST:PORT"),
                            (["--path-target", "example.com"],
                             "--path-target: expected an IPv4 address, not 'example.com'")):
            error = self.assertRaises(tap.StartupError, tap.Options().parseOptions, argv)
            self.assertTrue(str(error).startswith("globalchat: " + start), str(error))

    def test_verifyViaWired(self):
        """
        The helpers and path target given reach the port mapper: the
        helper is asked to connect back, to the port the router gave.
        """
        asked = []
        self.patch(probe, "askProbe", lambda reactor, host, port, probed, tls: succeed(
            asked.append((host, port, probed, tls)) or "PROBE OK Hello"))
        options = tap.Options()
        options.parseOptions(["--expose", "--data-dir", self.mktemp(), "--no-history",
                              "--port", "tcp:1234", "--verify-via", "45.33.32.2:4000",
                              "--path-target", "45.33.32.2"])
        top = tap.makeService(options, reactor=self.reactor)
        top.privilegedStartService()
        top.startService()
        self.addCleanup(top.stopService)
        self.assertEqual((self.targets, asked), (["45.33.32.2"], [("45.33.32.2", 4000, 1234, False)]))
        self.assertIn("reachable at 8.8.4.4:1234 (confirmed by 45.33.32.2:4000) \N{EM DASH} "
                      "globalchat-client 8.8.4.4 1234", self.messages())

    def test_mapsEveryPort(self):
        """
        Each TCP and TLS port, IRC ones included, is mapped once bound; the
        TLS one is announced with its certificate's fingerprint.
        """
        options = tap.Options()
        options.parseOptions(["--expose", "--data-dir", self.mktemp(), "--no-history",
                              "--port", "tcp:1234", "--port", "ssl:4433", "--irc", "tcp:6667"])
        service = tap.makeService(options, reactor=self.reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual([port for port, _, _ in self.gateway.added], [1234, 4433, 6667])
        fingerprints = [e["fingerprint"] for e in self.logged if "fingerprint" in e]
        self.assertIn(
            "mapped on the router at 8.8.4.4:4433 \N{EM DASH} friends connect with "
            f"globalchat-client 8.8.4.4 4433 --tls --fingerprint {fingerprints[0]}; not "
            "confirmed from outside yet (add --verify-via HOST:PORT to have a helper on the "
            "internet check)",
            self.messages(),
        )
        self.assertEqual(self.targets, ["1.1.1.1"])

    def test_withoutExposeNothingMapped(self):
        """
        Without C{--expose} the gateway is left alone.
        """
        options = tap.Options()
        options.parseOptions(["--port", "tcp:1234", "--no-history"])
        service = tap.makeService(options, reactor=self.reactor)
        service.privilegedStartService()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual(self.gateway.added, [])

    def test_loopbackNotExposed(self):
        """
        A port bound to loopback only cannot be forwarded to: the user is
        told how to listen instead.
        """
        mapper = PortMapperService(self.reactor, [("NAT-PMP", lambda: succeed(self.gateway))])
        mapper.startService()
        listener = startup.ListeningService(None, None, "tcp:5:interface=127.0.0.1")
        startup.exposeWhenListening(mapper, listener, None)
        listener._listening(_FakePort(IPv4Address("TCP", "127.0.0.1", 5)))
        self.assertEqual(self.gateway.added, [])
        self.assertIn(
            "not exposed: tcp:5:interface=127.0.0.1 listens on 127.0.0.1 only; listen "
            "on all addresses (e.g. tcp:5) to be reachable",
            self.messages(),
        )


class SecurityLogTests(SynchronousTestCase):
    """
    C{--log-json FILE}.
    """

    def test_onlySecurityEvents(self):
        """
        Security events are written as JSON lines; other events are not.
        """
        import json

        from twisted.logger import Logger

        path = Path(self.mktemp())
        service = startup.SecurityLog(path)
        service.startService()
        log = Logger(namespace="test")
        log.info("ordinary")
        log.warn("refused {peer}: {reason}", peer="198.51.100.7:1", reason="banned",
                 security="refused")
        service.stopService()
        events = [json.loads(line) for line in path.read_text().splitlines()]
        self.assertEqual([(e["security"], e["peer"]) for e in events],
                         [("refused", "198.51.100.7:1")])

    def test_unwritable(self):
        """
        A file that cannot be written stops the server with one line.
        """
        options = tap.Options()
        options.parseOptions(["--log-json", "/nonexistent/dir/x.json", "--no-history"])
        e = self.assertRaises(tap.StartupError, tap.makeService, options,
                              reactor=MemoryReactorClock())
        self.assertIn("cannot write --log-json", str(e))


class FileLimitTests(SynchronousTestCase):
    """
    The server raises its own limit on open files as far as it may.
    """

    def setUp(self):
        self.limits = []
        self.patch(startup.resource, "setrlimit", lambda which, limits: self.limits.append(limits))
        self.logged = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def messages(self):
        return [formatEvent(e) for e in self.logged]

    def test_raisedToHard(self):
        """
        The soft limit goes up to the hard limit, and the log says so.
        """
        self.patch(startup.resource, "getrlimit", lambda which: (1024, 65536))
        startup.raiseFileLimit(10000)
        self.assertEqual(self.limits, [(65536, 65536)])
        self.assertEqual(self.messages(), ["raised the open files limit from 1024 to 65536"])

    def test_tooLowWarns(self):
        """
        A hard limit below --max-connections is a warning naming both.
        """
        self.patch(startup.resource, "getrlimit", lambda which: (4096, 4096))
        startup.raiseFileLimit(10000)
        self.assertEqual(self.limits, [])
        [message] = self.messages()
        self.assertIn("the open files limit (4096) allows about 4064 connections", message)
        self.assertIn("--max-connections 10000", message)


class StateLoaderTests(SynchronousTestCase):
    """
    L{stateloader.StateLoader}: the moderation state read at start and, on a
    cluster node, again and again.
    """

    def setUp(self):
        from twisted.internet.task import Clock

        self.clock = Clock()
        self.calls = []
        self.answers = []
        self.logged = []
        globalLogPublisher.addObserver(self.logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.logged.append)

    def reader(self, name):
        def read():
            self.calls.append(name)
            return self.answers.pop(0) if self.answers else succeed(None)
        return read

    def failures(self):
        return [e for e in self.logged if "log_failure" in e]

    def test_again(self):
        """
        With C{every}, everything is read at start and the part that other
        nodes change every C{every} seconds, until the service stops.
        """
        loader = stateloader.StateLoader(self.reader("load"), "state", self.clock, every=5,
                                     again=self.reader("refresh"))
        loader.startService()
        self.clock.advance(5)
        self.clock.advance(5)
        loader.stopService()
        self.clock.advance(5)
        self.assertEqual(self.calls, ["load", "refresh", "refresh"])

    def test_failureLoggedOnce(self):
        """
        A reading that fails is logged once while the failures last, and
        again after a success; a store away for now (a ChatError, which
        the connection logs itself) is not logged.
        """
        from twisted.internet.defer import fail

        from globalchat.chat.errors import ChatError

        loader = stateloader.StateLoader(self.reader("load"), "state", self.clock, every=5)
        self.answers = [fail(ChatError("away")), fail(RuntimeError("broken")),
                        fail(RuntimeError("broken")), succeed(None), fail(RuntimeError("again"))]
        loader.startService()
        self.assertEqual(self.failures(), [])
        for _ in range(4):
            self.clock.advance(5)
        loader.stopService()
        self.assertEqual([e["log_failure"].getErrorMessage() for e in self.failures()],
                         ["broken", "again"])
        self.flushLoggedErrors(RuntimeError)
