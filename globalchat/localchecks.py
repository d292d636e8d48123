# -*- test-case-name: tests.test_doctor -*-
"""
The checks C{globalchat-doctor} makes on this machine: is something
listening on the port, and does the host firewall let connections in?
Each is an L{Check}: C{ok}, C{problem} or C{skipped}, with the fix.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shutil
import sys
from dataclasses import dataclass

from twisted.internet.utils import getProcessOutputAndValue

OK = "ok"
PROBLEM = "problem"
SKIPPED = "skipped"


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
