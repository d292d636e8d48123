# -*- test-case-name: tests.test_tap -*-
"""
C{twistd globalchat}: command-line options and the service they build.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from twisted.application.service import MultiService
from twisted.internet.interfaces import IReactorCore
from twisted.logger import (
    Logger,
)
from twisted.python import usage

from globalchat import endpoints, service, tls
from globalchat.auth import loadPasswordFile
from globalchat.chat import wire
from globalchat.chat.errors import ChatError
from globalchat.chat.bus import DEFAULT_ANNOUNCE_LIMIT
from globalchat.chat.hub import DEFAULT_BACKLOG, DEFAULT_MAX_ROOMS, DEFAULT_ROOMS_PER_USER
from globalchat.chat.names import checkName, checkRoom
from globalchat.cluster.address import BadClusterURL, parseURL
from globalchat.commandline import didYouMean, helpPointer, whyUnusable
from globalchat.expose.mapper import (
    DEFAULT_LEASE,
)
from globalchat.expose.path import DEFAULT_TARGET, parseTarget
from globalchat.expose.stun import parseHostPort
from globalchat.policy import Limits, parseNetwork, parseRate
from globalchat.irc.server import DEFAULT_NAME as DEFAULT_IRC_NAME
from globalchat.server import DEFAULT_MAX_LINE_LENGTH
from globalchat.web.gate import parseOrigin
from globalchat.startup import (
    checkedLine,
    readLines,
    StartupError,
)


#: How many messages each room keeps by default (C{--history-max}).
DEFAULT_HISTORY_MAX = 100_000

DEFAULT_PORT = "tcp:12345"

#: What C{--accounts} may be.
ACCOUNT_MODES = ("on", "required", "off")

#: The limits' defaults live in one place, L{Limits}.
_DEFAULTS = Limits()

log = Logger()


def _network(option: str, value: str) -> list:
    try:
        return parseNetwork(value)
    except ValueError as e:
        raise StartupError(f"--{option}: {e}") from None


def _rate(option: str, value: str) -> float:
    try:
        return parseRate(value)
    except ValueError as e:
        raise StartupError(f"--{option}: {e}") from None


def _positiveInt(name: str, value: str, maximum: int, minimum: int = 1) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if not minimum <= number <= maximum:
        raise StartupError(
            f"--{name} must be a whole number from {minimum} to {maximum}, not {value!r}")
    return number


#: What a user types to run the server, for pointers to its help.
COMMAND = "twistd globalchat"

#: getopt's words for an option it does not know, or cannot tell apart.
_UNKNOWN_OPTION = re.compile(r"^option (-{1,2}[^ ]+) (?:not recognized|not a unique prefix)$")


class Options(usage.Options):
    """
    Options of C{twistd globalchat}.
    """

    synopsis = "[--port ENDPOINT]... [options]"
    longdesc = (
        "A chat server reachable across the internet. The first line a client "
        "sends is its name; every later line goes to the room the client is in "
        "(#lobby at first), unless it is a command such as /join or /msg."
    )

    optFlags = [
        ["no-history", None, "Keep messages in memory only: history, offline messages "
                             "and resuming last only as long as the server runs."],
        ["probe-helper", None, "Let globalchat-doctor --via on other networks ask this "
                               "server to connect back to them (one probe per address "
                               "per minute, only ever to the asker's own address)."],
        ["no-login-throttle", None, "Do not make clients wait longer after each failed "
                                    "login: for conformance test harnesses on 127.0.0.1 "
                                    "only, never on an open port."],
        ["expose", None, "Ask the gateway (PCP, NAT-PMP or UPnP IGD) to forward each "
                         "TCP/TLS port to this machine, and log how friends connect."],
    ]

    optParameters = [
        ["gateway", None, None, "The gateway to ask for --expose (default: the default "
                                "route's next hop)."],
        ["expose-lease", None, str(DEFAULT_LEASE), "Seconds a mapping is asked for; it is "
                                                   "renewed at half its lifetime."],
        ["greeting", None, wire.DEFAULT_GREETING,
         "Welcome line sent after the name; {name} is replaced by it."],
        ["default-room", None, "lobby", "The room everybody starts in."],
        ["motd", None, None, "A text file whose lines are shown after the greeting."],
        ["max-connections", None, str(_DEFAULTS.maxConnections), "Most connections at once; more get one error line."],
        ["max-per-ip", None, str(_DEFAULTS.maxPerIP), "Most connections from one address at once."],
        ["rate", None, f"{_DEFAULTS.rate:g}/s", "Lines a connection may send on average (10/s, 600/min)."],
        ["burst", None, f"{_DEFAULTS.burst:g}", "Lines a connection may send at once above the rate."],
        ["connect-rate", None, f"{_DEFAULTS.connectRate:g}/s",
         "New connections one address may open on average (bursts of 20, or twice the rate)."],
        ["login-timeout", None, f"{_DEFAULTS.loginTimeout:g}", "Seconds a connection has to give an acceptable name."],
        ["idle-timeout", None, None, "Seconds of silence after which a connection is closed "
                                     "(default: never)."],
        ["max-send-buffer", None, str(_DEFAULTS.maxSendBuffer), "Bytes kept for a client that stopped "
                                                    "reading before it is dropped."],
        ["accounts", None, "on", "on: names can be registered (/register) and are then "
                                 "their owner's; required: only accounts may log in; off: "
                                 "every name is anyone's, as on a private server."],
        ["operators", None, None, "A file of account names, one a line, who are server "
                                  "operators (with --accounts on or required)."],
        ["client-ca", None, None, "Require on every ssl: port a client certificate signed by "
                                  "this CA (PEM); its common name is the user's name "
                                  "(make one with globalchat-cert)."],
        ["password-file", None, None, "Ask every client for the password whose hash this "
                                      "file holds (write it with globalchat-passwd)."],
        ["irc-name", None, DEFAULT_IRC_NAME, "The server's name on the --irc ports (the "
                                             "source of its replies): a host name."],
        ["metrics", None, None, "Serve Prometheus metrics at /metrics on this endpoint, e.g. "
                                "tcp:9100:interface=127.0.0.1 (default: off). They show "
                                "who is refused and how busy the server is: listen on "
                                "127.0.0.1 or a private network only."],
        ["log-json", None, None, "Also write security events (refused, banned, flood, slow "
                                 "reader, ...) to this file as JSON lines."],
        ["ban-time", None, f"{_DEFAULTS.banTime:g}", "Seconds an address is refused after repeated abuse."],
        ["ipv6-prefix", None, str(_DEFAULTS.ipv6Prefix), "IPv6 clients are counted and banned "
                                                         "by network of this many bits (128: "
                                                         "by address)."],
        ["max-line-length", None, str(DEFAULT_MAX_LINE_LENGTH),
         "Longest line accepted from a client, in bytes."],
        ["data-dir", None, "globalchat-data",
         "Directory for the server's own files (the message history, the TLS "
         "certificate)."],
        ["backlog", None, str(DEFAULT_BACKLOG), "How many of a room's last messages a "
                                                "joiner is shown (0: none)."],
        ["history-days", None, None, "Delete room messages older than this many days "
                                     "(default: keep them)."],
        ["history-max", None, str(DEFAULT_HISTORY_MAX), "Most messages kept per room."],
        ["max-rooms", None, str(DEFAULT_MAX_ROOMS), "Most rooms on the server at once."],
        ["max-rooms-per-user", None, str(DEFAULT_ROOMS_PER_USER),
         "Most rooms one user may be in at once."],
        ["cluster", None, None, "Make this server a node of the cluster whose Redis is at "
                                "redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS, "
                                "?ca=FILE for a private CA): names, rooms, history and "
                                "accounts are shared with every node of it."],
        ["announce-limit", None, str(DEFAULT_ANNOUNCE_LIMIT),
         "Rooms with more members than this do not announce joins, parts and quits."],
    ]

    def __init__(self) -> None:
        super().__init__()
        # Twisted takes an opt_ method's help from its docstring as it is,
        # indentation included, which leaves runs of spaces in sentences.
        self.docs = {name: " ".join(doc.split()) if doc else doc
                     for name, doc in self.docs.items()}
        self["ports"] = []
        self["stun"] = []
        self["verify-via"] = []
        self["path-target"] = DEFAULT_TARGET
        self["allow"] = []
        self["deny"] = []
        self["web"] = []
        self["irc"] = []
        self["web-origin"] = []
        self["trust-proxy"] = []

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Parse, answering a usage error (an unknown option, a missing
        value) with one line, and the option probably meant: twistd would
        print the whole help first, under the name C{twistd -n}.

        @raise StartupError: for a usage error.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            message = str(e)
            unknown = _UNKNOWN_OPTION.match(message)
            if unknown:
                known = [f"--{name.rstrip('=')}" for name in self.longOpt]
                message += didYouMean(unknown.group(1), known)
            raise StartupError(message + helpPointer(COMMAND)) from None

    def opt_allow(self, network: str) -> None:
        """
        Accept connections only from this address or CIDR network
        (repeatable; default: from everywhere).
        """
        self["allow"].extend(_network("allow", network))

    def opt_deny(self, network: str) -> None:
        """
        Refuse connections from this address or CIDR network (repeatable).
        """
        self["deny"].extend(_network("deny", network))

    def opt_stun(self, server: str) -> None:
        """
        With --expose, ask this STUN server (HOST:PORT) which address the
        internet sees, to detect a second NAT (repeatable; none by default).
        """
        try:
            self["stun"].append(parseHostPort(server))
        except ValueError as e:
            raise StartupError(f"--stun: {e}") from None

    def opt_verify_via(self, helper: str) -> None:
        """
        With --expose, after each mapping and renewal ask the globalchat
        server at HOST:PORT (started with --probe-helper) to connect back,
        and say "reachable" only when it could (repeatable).
        """
        try:
            self["verify-via"].append(parseHostPort(helper, 12345))
        except ValueError as e:
            raise StartupError(f"--verify-via: {e}") from None

    def opt_path_target(self, address: str) -> None:
        """
        With --expose, the public IPv4 address the check for a second NAT
        sends three short-lived UDP datagrams towards; they expire a few
        routers out (default 1.1.1.1).
        """
        try:
            self["path-target"] = parseTarget(address)
        except ValueError as e:
            raise StartupError(f"--path-target: {e}") from None

    def opt_port(self, description: str) -> None:
        """
        Listen on a Twisted server endpoint, e.g. tcp:12345, ssl:12345,
        tcp6:12345:interface=\\:\\:, unix:/run/chat.sock (repeatable;
        default tcp:12345).
        """
        self["ports"].append(description)

    opt_p = opt_port

    def opt_web(self, description: str) -> None:
        """
        Serve the browser client (the chat page and its WebSocket) on a
        Twisted server endpoint, e.g. tcp:8080, ssl:8443 (repeatable).
        """
        self["web"].append(description)

    def opt_irc(self, description: str) -> None:
        """
        Serve the IRC client protocol on a Twisted server endpoint, e.g.
        tcp:6667, ssl:6697 (repeatable): IRC clients join the same rooms.
        """
        self["irc"].append(description)

    def opt_web_origin(self, origin: str) -> None:
        """
        Let pages of this origin (e.g. https://chat.example.org) open the
        chat's WebSocket, besides the server's own pages (repeatable).
        """
        try:
            self["web-origin"].append(parseOrigin(origin))
        except ValueError as e:
            raise StartupError(f"--web-origin: {e}") from None

    def opt_trust_proxy(self, network: str) -> None:
        """
        Take a web client's address from X-Forwarded-For when it connects
        through a reverse proxy in this address or CIDR network
        (repeatable; default: no proxy is trusted).
        """
        self["trust-proxy"].extend(_network("trust-proxy", network))

    def parseArgs(self, *arguments: str) -> None:
        """
        Every setting is an option: a stray word is most often a value
        whose option was forgotten, or a value with spaces not quoted.
        """
        if arguments:
            raise usage.UsageError(
                f"unexpected argument {arguments[0]!r}: give every setting as an option, "
                "e.g. --port tcp:12345, and quote values with spaces")

    def postOptions(self) -> None:
        if not self["ports"]:
            self["ports"] = [DEFAULT_PORT]
        from twisted.internet import reactor

        for option, description in [("--port", d) for d in self["ports"]] + [
                ("--web", d) for d in self["web"]] + [("--irc", d) for d in self["irc"]]:
            # Checked now, so that nothing is made on disk for a typo.  An
            # ssl: port without a key gets its certificate later; until
            # then, what can be checked is the TCP port it listens on.
            checked = tls.withoutTLS(description) if tls.needsCertificate(description) else description
            try:
                endpoints.serverEndpoint(reactor, checked, option, given=description)
            except endpoints.BadEndpoint as e:
                raise StartupError(str(e)) from None
        if re.fullmatch(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+", self["irc-name"]) is None:
            raise StartupError(f"--irc-name must be a host name with a dot, such as "
                               f"irc.example.org, not {self['irc-name']!r}")
        if self["metrics"] is not None:
            try:
                endpoints.serverEndpoint(reactor, self["metrics"], option="--metrics")
            except endpoints.BadEndpoint as e:
                raise StartupError(str(e)) from None
        try:
            self["greeting"].format(name="John")
        except (KeyError, IndexError, ValueError):
            raise StartupError(
                f"--greeting may only use the {{name}} placeholder (write {{{{ and }}}} for a "
                f"brace), not {self['greeting']!r}"
            ) from None
        self["max-line-length"] = _positiveInt(
            "max-line-length", self["max-line-length"], 1024 * 1024
        )
        self["data-dir"] = Path(self["data-dir"])
        self["backlog"] = _positiveInt("backlog", self["backlog"], 1000, minimum=0)
        self["history-max"] = _positiveInt("history-max", self["history-max"], 10**9)
        self["max-rooms"] = _positiveInt("max-rooms", self["max-rooms"], 10**7)
        self["max-rooms-per-user"] = _positiveInt("max-rooms-per-user",
                                                  self["max-rooms-per-user"], 10**4)
        self["announce-limit"] = _positiveInt("announce-limit", self["announce-limit"], 10**6,
                                              minimum=0)
        if self["cluster"] is not None:
            try:
                self["cluster"] = parseURL(self["cluster"])
            except BadClusterURL as e:
                raise StartupError(str(e)) from None
        if self["history-days"] is not None:
            self["history-days"] = _positiveInt("history-days", self["history-days"], 100000)
        try:
            checkRoom(self["default-room"])
        except ChatError as e:
            raise StartupError(f"--default-room: {e}") from None
        if self["accounts"] not in ACCOUNT_MODES:
            raise StartupError(f"--accounts is one of {', '.join(ACCOUNT_MODES)}, "
                               f"not {self['accounts']!r}")
        if self["operators"] is not None:
            if self["accounts"] == "off":
                raise StartupError("--operators needs accounts: drop --accounts off")
            self["operators"] = [checkedLine(checkName, "operators", self["operators"], line)
                                 for line in readLines("operators", Path(self["operators"]))
                                 if line.strip() and not line.startswith("#")]
        if self["client-ca"] is not None:
            try:
                authority = Path(self["client-ca"]).read_bytes()
                tls.fingerprint(authority)
            except (OSError, ValueError) as e:
                raise StartupError(f"cannot read --client-ca {self['client-ca']}: "
                                   f"{whyUnusable(e, 'a PEM certificate')}") from None
            self["client-ca"] = authority
        if self["password-file"] is not None:
            try:
                self["password-file"] = loadPasswordFile(Path(self["password-file"]))
            except ValueError as e:
                raise StartupError(f"--password-file: {e}") from None
        self["motd"] = readLines("motd", Path(self["motd"])) if self["motd"] else []
        self["expose-lease"] = _positiveInt("expose-lease", self["expose-lease"], 7 * 24 * 3600)
        rate, connectRate = _rate("rate", self["rate"]), _rate("connect-rate", self["connect-rate"])
        idle = self["idle-timeout"]
        self["limits"] = Limits(
            allow=self["allow"], deny=self["deny"],
            maxConnections=_positiveInt("max-connections", self["max-connections"], 10**6),
            maxPerIP=_positiveInt("max-per-ip", self["max-per-ip"], 10**6),
            rate=rate, burst=_positiveInt("burst", self["burst"], 10**6),
            loginTimeout=_positiveInt("login-timeout", self["login-timeout"], 86400),
            idleTimeout=None if idle is None else _positiveInt("idle-timeout", idle, 10**7),
            maxSendBuffer=_positiveInt("max-send-buffer", self["max-send-buffer"], 2**31),
            banTime=_positiveInt("ban-time", self["ban-time"], 10**7),
            ipv6Prefix=_positiveInt("ipv6-prefix", self["ipv6-prefix"], 128, minimum=16),
            connectRate=connectRate, connectBurst=max(_DEFAULTS.connectBurst, 2 * connectRate),
        )
        if self["gateway"] is not None:
            try:
                ipaddress.ip_address(self["gateway"])
            except ValueError:
                raise StartupError(
                    f"--gateway must be an IP address, not {self['gateway']!r}"
                ) from None


def makeService(config: Options, reactor: IReactorCore | None = None) -> MultiService:
    """
    Build the server the options describe (L{globalchat.service}).
    """
    return service.makeService(config, reactor)
