# -*- test-case-name: tests.test_doctor -*-
"""
C{globalchat-doctor}: why can't my friend connect?

Each link between a friend abroad and the server is checked in the order
a connection crosses them backwards: something listening, the host
firewall, the gateway's port mapping, the public address, IPv6, and (with
C{--via}) a real connection from another globalchat server.  Every line
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from twisted.internet.defer import ensureDeferred
from twisted.internet.utils import getProcessOutputAndValue

from globalchat import tls
from globalchat.commandline import ArgumentParser, portNumber
from globalchat.expose import nat
from globalchat.expose.gateway import defaultGateway, globalIPv6Addresses, readKernelTable
from globalchat.expose.mapping import MappingError
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
    for tool, args, verdict in tools:
        path = shutil.which(tool)
        if path is None:
            continue
        out, err, code = await getProcessOutputAndValue(path, args, env=os.environ, reactor=reactor)
        if code != 0:
            unreadable.append(tool)
            continue
        judged = verdict(out.decode("utf-8", "replace"), port)
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


def checkExternal(gatewayAddress: str | None, stunAddress: str | None) -> Check:
    """
    Is the address the world sees us at public, and the only NAT ours?
    """
    name = "public address"
    problem = nat.diagnose(gatewayAddress, stunAddress)
    if problem is not None:
        return Check(name, PROBLEM, problem, nat.ALTERNATIVES)
    address = stunAddress or gatewayAddress
    if address is None:
        return Check(name, SKIPPED, "no gateway or STUN server told the public address",
                     "give a STUN server with --stun HOST:PORT (README lists some)")
    if nat.classify(address) != nat.PUBLIC:
        return Check(name, PROBLEM, f"the external address {address} is not public", nat.ALTERNATIVES)
    return Check(name, OK, f"the public address is {address}")


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
    name = "reachable from outside"
    if answer.startswith("PROBE OK "):
        seen = answer.split()[2]
        if ownFingerprint and seen.startswith("SHA256:") and seen != ownFingerprint:
            return Check(name, PROBLEM,
                         f"{via} reached a TLS server whose certificate is {seen}, not this "
                         f"server's {ownFingerprint}: something in between answers instead",
                         "check the port forward points at this machine")
        return Check(name, OK, f"reachable from {via}: {answer[len('PROBE OK '):]}")
    if answer.startswith("PROBE FAILED "):
        return Check(name, PROBLEM, f"{via} could not connect: {answer[len('PROBE FAILED '):]}",
                     "fix the problems above; if there are none, your provider may block "
                     "incoming connections: try another port")
    if answer.startswith("PROBE REFUSED "):
        return Check(name, SKIPPED, f"{via} refused the probe: {answer[len('PROBE REFUSED '):]}",
                     "wait a minute and try again")
    return Check(name, SKIPPED, f"{via} does not offer probes (it answered {answer!r})",
                 "ask its owner to start it with --probe-helper")


def _hostPort(default: int):
    def parse(text: str) -> tuple[str, int]:
        try:
            return parseHostPort(text, default)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


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
    parser.add_argument("--stun", action="append", default=[], type=_hostPort(3478),
                        metavar="HOST:PORT", help="ask this STUN server for the public address")
    parser.add_argument("--via", type=_hostPort(12345), metavar="HOST:PORT",
                        help="ask the globalchat server there (started with --probe-helper) "
                             "to connect back to this one")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    return parser


async def diagnose(reactor, options: argparse.Namespace, methods=None, stun=None) -> list[Check]:
    """
    Run every check.

    @param methods: the gateway protocols to try (default: PCP, NAT-PMP,
        UPnP on the gateway).
    @param stun: asks the C{--stun} servers (default: the STUN client).
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
    checks.append(checkExternal(external, seen))
    checks.append(checkIPv6(globalIPv6Addresses(), port))
    if options.via:
        from globalchat.expose.probe import askProbe

        host, viaPort = options.via
        via = f"{host}:{viaPort}"
        try:
            answer = await askProbe(reactor, host, viaPort, port, options.tls)
        except Exception as e:
            checks.append(Check("reachable from outside", SKIPPED,
                                f"could not ask {via}: {e.__class__.__name__} {e}",
                                "check the --via address"))
        else:
            checks.append(judgeProbe(answer, via, _ownFingerprint(options)))
    return checks


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
