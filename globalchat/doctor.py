# -*- test-case-name: tests.test_doctor -*-
"""
C{globalchat-doctor}: why can't my friend connect?

Each link between a friend abroad and the server is checked in the order
a connection crosses them backwards: something listening, the host
firewall, the gateway's port mapping, the public address (with the signs
of a second NAT: the gateway's address, STUN, the routers on the path),
IPv6, and (with C{--via}) a real connection from another globalchat
server.  Every line
is C{ok}, C{problem} or C{skipped}; every problem comes with the exact fix.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import asdict, replace
from pathlib import Path

from twisted.internet.defer import ensureDeferred

from globalchat import tls
from globalchat.commandline import ArgumentParser, portNumber
from globalchat.expose import nat, verdict
from globalchat.expose.gateway import defaultGateway, globalIPv6Addresses, readKernelTable
from globalchat.expose.mapping import MappingError
from globalchat.expose.path import DEFAULT_TARGET, Path as NetworkPath, parseTarget, pathChecker
from globalchat.expose.probe import CONNECTED, IMPOSTOR, NOT_CONNECTED, REFUSED, readAnswer
from globalchat.expose.stun import firstStunAddress, parseHostPort
from globalchat.localchecks import (
    OK,
    PROBLEM,
    SKIPPED,
    Check,
    checkFirewall,
    checkListener,
    parseListeners,
)

#: A test mapping is asked for this long, and deleted at once anyway.
TEST_LEASE = 120

#: The test mapping forwards to an unused high port, so that it cannot
#: disturb the mapping of a server already running with --expose.
TEST_PORTS = (49152, 65535)


async def checkGateway(reactor, port: int, methods, testPort: int | None = None) -> tuple[Check, str | None]:
    """
    Make and delete a short test mapping with the first protocol that works.

    @param testPort: the local port the test mapping forwards to (default:
        a random unused high port).

    @return: the check and the gateway's external address, if learned.
    """
    name = "gateway"
    if not methods:
        return Check(name, PROBLEM, "this machine has no default gateway",
                     "connect to a network, or give the router's address with --gateway"), None
    if testPort is None:
        testPort = random.randint(*TEST_PORTS)
    reasons = []
    for method, make in methods:
        try:
            mapper = await make()
            mapping = await mapper.addMapping(testPort, testPort, TEST_LEASE)
        except MappingError as e:
            reasons.append(str(e))
            continue
        address = mapping.externalAddress
        if address is None:
            try:
                address = await mapper.externalAddress()
            except MappingError:
                pass
        try:
            await mapper.deleteMapping(mapping)
        except MappingError as e:
            reasons.append(f"the test mapping could not be removed ({e}); it expires in {TEST_LEASE} s")
        return Check(name, OK,
                     f"{method} on the gateway mapped a test port and removed it: "
                     f"`twistd globalchat --expose` will work"), address
    return Check(name, PROBLEM, "no port mapping: " + "; ".join(reasons),
                 "enable UPnP IGD or NAT-PMP/PCP in your router's settings, or forward "
                 f"TCP port {port} to this machine by hand (README: Going global)"), None


def checkExternal(found: verdict.Verdict, path: NetworkPath | None,
                  ipv6: list[str] = ()) -> Check:
    """
    Is the address the world sees us at public, and the only NAT ours?
    Any sign of another NAT is a problem, unless a helper connected anyway.
    """
    name = "public address"
    why = "; ".join(map(str, found.signals))
    if found.signals and found.status != verdict.REACHABLE:
        return Check(name, PROBLEM, f"{verdict.behind(found.signals)}: {why}; a port mapping "
                                    "on your router cannot make this server reachable",
                     nat.alternatives(ipv6))
    if found.address is None:
        return Check(name, SKIPPED, "no gateway or STUN server told the public address",
                     "give a STUN server with --stun HOST:PORT (README lists some)")
    detail = f"the public address is {found.address}"
    if found.signals:
        detail += (f" ({why} suggested another NAT, but {found.answer.helper} connected "
                   "from outside)")
    elif path is not None and path.skipped:
        detail += f"; path check skipped: {path.skipped}"
    elif path is not None:
        detail += f"; no second NAT on the {path.describe()}"
    return Check(name, OK, detail)


def checkIPv6(addresses: list[str], port: int) -> Check:
    """
    Report global IPv6 addresses: a friend with IPv6 can connect directly.
    """
    if not addresses:
        return Check("IPv6", SKIPPED, "this machine has no global IPv6 address")
    return Check("IPv6", OK,
                 f"global IPv6 address {addresses[0]}: friends with IPv6 can connect to "
                 f"[{addresses[0]}]:{port} when the server listens with "
                 f"--port tcp6:{port}:interface=\\:\\: and no firewall blocks it")


def judgeProbe(answer: str, via: str, ownFingerprint: str | None) -> Check:
    """
    Turn a probe helper's answer line into a verdict.
    """
    outcome, rest = readAnswer(answer, ownFingerprint)
    status, detail, fix = {
        CONNECTED: (OK, f"reachable from {via}: {rest}", ""),
        IMPOSTOR: (PROBLEM, f"{via} reached a TLS server whose certificate is {rest}, not this "
                            f"server's {ownFingerprint}: something in between answers instead",
                   "check the port forward points at this machine"),
        NOT_CONNECTED: (PROBLEM, f"{via} could not connect: {rest}",
                        "fix the problems above; if there are none, your provider may block "
                        "incoming connections: try another port"),
        REFUSED: (SKIPPED, f"{via} refused the probe: {rest}", "wait a minute and try again"),
    }.get(outcome, (SKIPPED, f"{via} does not offer probes (it answered {answer!r})",
                    "ask its owner to start it with --probe-helper"))
    return Check("reachable from outside", status, detail, fix)


def _checked(parse):
    # argparse shows an ArgumentTypeError's own message, naming the value.
    def check(text: str):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return check


def _parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="globalchat-doctor",
        description="Check, link by link, whether friends on other networks can reach "
                    "this globalchat server, and say how to fix what blocks them.",
    )
    parser.add_argument("--port", type=portNumber, default=12345,
                        help="the server's TCP port (default 12345)")
    parser.add_argument("--tls", action="store_true", help="the port is a TLS (ssl:) port")
    parser.add_argument("--web", type=portNumber, action="append", default=[], metavar="PORT",
                        help="also check the listener and firewall of this --web port "
                             "(repeatable)")
    parser.add_argument("--data-dir", default="globalchat-data",
                        help="the server's data directory, to compare its TLS fingerprint")
    parser.add_argument("--gateway", help="the router's address (default: the default route's)")
    parser.add_argument("--stun", action="append", default=[], type=_checked(parseHostPort),
                        metavar="HOST:PORT", help="ask this STUN server for the public address")
    parser.add_argument("--via", type=_checked(lambda text: parseHostPort(text, 12345)),
                        metavar="HOST:PORT", help="ask the globalchat server there (started "
                                                  "with --probe-helper) to connect back")
    parser.add_argument("--path-target", default=DEFAULT_TARGET, metavar="IP",
                        type=_checked(parseTarget),
                        help="aim the path check's three short-lived UDP datagrams at this "
                             f"public address (default {DEFAULT_TARGET}; they expire on the way)")
    parser.add_argument("--cluster", metavar="URL",
                        help="instead, show the cluster whose Redis is at URL "
                             "(redis://[:PASSWORD@]HOST:PORT/DB, as given to --cluster): its "
                             "nodes, their clients and heartbeats, and Redis's persistence")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


async def diagnose(reactor, options: argparse.Namespace, methods=None, stun=None,
                   path=None) -> list[Check]:
    """
    Run every check.

    @param methods: the gateway protocols to try (default: PCP, NAT-PMP,
        UPnP on the gateway).
    @param stun: asks the C{--stun} servers (default: the STUN client).
    @param path: looks at the routers on the way out (default: towards
        C{--path-target}).
    """
    from globalchat.expose.mapper import gatewayMethods

    port = options.port
    checks = [checkListener(port, parseListeners(readKernelTable("/proc/net/tcp"), port)
                            + parseListeners(readKernelTable("/proc/net/tcp6"), port))]
    checks.append(await checkFirewall(reactor, port))
    for web in options.web:
        listeners = (parseListeners(readKernelTable("/proc/net/tcp"), web)
                     + parseListeners(readKernelTable("/proc/net/tcp6"), web))
        for check in (checkListener(web, listeners), await checkFirewall(reactor, web)):
            checks.append(replace(check, name=f"{check.name} (web port {web})"))
    if methods is None:
        gateway = options.gateway or defaultGateway()
        methods = gatewayMethods(reactor, gateway) if gateway else []
    gatewayCheck, external = await checkGateway(reactor, port, methods)
    checks.append(gatewayCheck)
    seen = None
    if options.stun:
        if stun is None:
            stun = lambda: firstStunAddress(reactor, options.stun)
        result = await stun()
        seen = result[0] if result else None
    route = await (path or pathChecker(reactor, options.path_target))()
    probed, answer = await _probe(reactor, options) if options.via else (None, None)
    ipv6 = globalIPv6Addresses()
    checks.append(checkExternal(verdict.judge(external, seen, route, answer), route, ipv6))
    checks.append(checkIPv6(ipv6, port))
    if probed is not None:
        checks.append(probed)
    return checks


async def _probe(reactor, options: argparse.Namespace) -> tuple[Check, verdict.HelperAnswer | None]:
    # The --via check, and the answer the public address check weighs.
    from globalchat.expose.probe import askProbe

    via = "%s:%d" % options.via
    try:
        line = await askProbe(reactor, *options.via, options.port, options.tls)
    except Exception as e:
        return Check("reachable from outside", SKIPPED, f"could not ask {via}: "
                     f"{e.__class__.__name__} {e}", "check the --via address"), None
    check = judgeProbe(line, via, _ownFingerprint(options))
    answer = verdict.HelperAnswer(via, check.status == OK, check.detail)
    return check, None if check.status == SKIPPED else answer


def _ownFingerprint(options: argparse.Namespace) -> str | None:
    try:
        return tls.fingerprint((Path(options.data_dir) / tls.CERTIFICATE_FILE).read_bytes())
    except (OSError, ValueError):
        return None


def render(checks: list[Check], asJSON: bool) -> str:
    """
    The report: one line per check (and its fix), or JSON for scripts.
    """
    if asJSON:
        return json.dumps([asdict(c) for c in checks], indent=2)
    lines = []
    for check in checks:
        lines.append(f"{check.status:8} {check.name}: {check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"{'':8}   fix: {check.fix}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """
    Entry point of C{globalchat-doctor}; exits 1 when something blocks
    reachability.
    """
    options = _parser().parse_args(argv)
    from twisted.internet.task import react

    async def run(reactor):
        if options.cluster is not None:
            from globalchat.cluster.status import connectAndCheck
            checks = await connectAndCheck(reactor, options.cluster)
        else:
            checks = await diagnose(reactor, options)
        print(render(checks, options.json))
        if any(c.status == PROBLEM for c in checks):
            raise SystemExit(1)

    react(lambda reactor: ensureDeferred(run(reactor)))


if __name__ == "__main__":
    main()
