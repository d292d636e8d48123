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
import ipaddress
import json
import os
import random
import re
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from twisted.internet.defer import ensureDeferred
from twisted.internet.utils import getProcessOutputAndValue

from globalchat import tls
from globalchat.commandline import ArgumentParser, portNumber
from globalchat.expose import nat, verdict
from globalchat.expose.gateway import defaultGateway, globalIPv6Addresses, readKernelTable
from globalchat.expose.mapping import MappingError
from globalchat.expose.path import DEFAULT_TARGET, Path as NetworkPath, parseTarget, pathChecker
from globalchat.expose.probe import CONNECTED, IMPOSTOR, NOT_CONNECTED, REFUSED, readAnswer
from globalchat.expose.stun import firstStunAddress, parseHostPort

OK = "ok"
PROBLEM = "problem"
SKIPPED = "skipped"

#: A test mapping is asked for this long, and deleted at once anyway.
TEST_LEASE = 120

#: The test mapping forwards to an unused high port, so that it cannot
#: disturb the mapping of a server already running with --expose.
TEST_PORTS = (49152, 65535)


@dataclass
class Check:
    """
    The verdict on one link.
    """

    name: str
    status: str
    detail: str
    fix: str = ""


def parseListeners(text: str, port: int) -> list[str]:
    """
    The local addresses listening on TCP C{port}, from the text of
    C{/proc/net/tcp} or C{/proc/net/tcp6}.
    """
    found = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != "0A":  # 0A is LISTEN
            continue
        address, _, hexPort = fields[1].partition(":")
        try:
            if int(hexPort, 16) != port:
                continue
            raw = bytes.fromhex(address)
        except ValueError:
            continue
        # The kernel prints each 32-bit word in host (little-endian) order.
        ordered = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
        found.append(str(ipaddress.ip_address(ordered)))
    return found


def checkListener(port: int, listeners: list[str]) -> Check:
    """
    Is anything listening on C{port}, on an address others can reach?
    """
    name = "local listener"
    if not listeners:
        return Check(name, PROBLEM, f"nothing listens on TCP port {port}",
                     f"start the server: twistd -n globalchat --port tcp:{port}")
    shown = ", ".join(listeners)
    if all(ipaddress.ip_address(a).is_loopback for a in listeners):
        return Check(name, PROBLEM,
                     f"TCP port {port} listens on {shown} only: other machines cannot connect",
                     f"listen on all addresses: --port tcp:{port}")
    return Check(name, OK, f"TCP port {port} is listened on at {shown}")


def ufwVerdict(text: str, port: int) -> Check | None:
    """
    Judge the output of C{ufw status}; C{None} if ufw is not in charge.
    """
    if "Status: active" not in text:
        return None
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in (str(port), f"{port}/tcp") and "ALLOW" in line:
            return Check("host firewall", OK, f"ufw allows TCP port {port}")
    return Check("host firewall", PROBLEM, f"ufw is active and does not allow TCP port {port}",
                 f"sudo ufw allow {port}/tcp")


def nftVerdict(text: str, port: int) -> Check | None:
    """
    Judge the output of C{nft list ruleset}; C{None} if no input chain drops.
    """
    dropping = re.search(r"hook input[^\n]*policy drop", text)
    if not dropping:
        return None
    if re.search(rf"dport (\{{[^}}]*\b{port}\b[^}}]*\}}|{port}\b)[^\n]*accept", text):
        return Check("host firewall", OK, f"nftables accepts TCP port {port}")
    return Check("host firewall", PROBLEM,
                 f"an nftables input chain drops by default and does not accept TCP port {port}",
                 f"sudo nft insert rule inet filter input tcp dport {port} accept "
                 "(use the table and chain that `nft list ruleset` shows with 'hook input')")


def iptablesVerdict(text: str, port: int) -> Check | None:
    """
    Judge the output of C{iptables -S INPUT}; C{None} if it accepts all.
    """
    blocks = "-P INPUT DROP" in text or re.search(r"-j (DROP|REJECT)", text)
    if not blocks:
        return None
    if re.search(rf"--dport {port}\b.*-j ACCEPT", text):
        return Check("host firewall", OK, f"iptables accepts TCP port {port}")
    return Check("host firewall", PROBLEM,
                 f"iptables drops or rejects input and does not accept TCP port {port}",
                 f"sudo iptables -I INPUT -p tcp --dport {port} -j ACCEPT")


async def checkFirewall(reactor, port: int, platform: str = sys.platform) -> Check:
    """
    Read the host firewall (read-only) and judge whether it lets the port in.
    """
    name = "host firewall"
    if platform == "win32":
        return Check(name, SKIPPED, "the Windows firewall cannot be read from here",
                     'in an administrator prompt: netsh advfirewall firewall add rule '
                     f'name="globalchat" dir=in action=allow protocol=TCP localport={port}')
    tools = [("ufw", ["status"], ufwVerdict), ("nft", ["list", "ruleset"], nftVerdict),
             ("iptables", ["-S", "INPUT"], iptablesVerdict)]
    unreadable = []
    for tool, args, judge in tools:
        path = shutil.which(tool)
        if path is None:
            continue
        out, err, code = await getProcessOutputAndValue(path, args, env=os.environ, reactor=reactor)
        if code != 0:
            unreadable.append(tool)
            continue
        judged = judge(out.decode("utf-8", "replace"), port)
        if judged is not None:
            return judged
    if unreadable:
        return Check(name, SKIPPED, f"could not read the rules of {', '.join(unreadable)}",
                     "run globalchat-doctor as root to check the firewall")
    return Check(name, OK, f"no host firewall rule blocks TCP port {port}")


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
        checks = await diagnose(reactor, options)
        print(render(checks, options.json))
        if any(c.status == PROBLEM for c in checks):
            raise SystemExit(1)

    react(lambda reactor: ensureDeferred(run(reactor)))


if __name__ == "__main__":
    main()
