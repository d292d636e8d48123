# -*- test-case-name: tests.test_expose_verdict -*-
"""
What may be said about reachability, given what is known.

Four witnesses, in rising order of trust: the external address the
gateway reports, the address a STUN server saw, the routers on the path
out, and a helper on the internet that tried to connect back.  The first
three can only show that something is in the way: a router granting a
mapping proves nothing about a NAT beyond it.  Only the helper proves
anything, so "reachable" is said only when one connected, and what it
says outweighs the rest.  C{--expose}'s log and C{globalchat-doctor} both
take their words from here, so that they never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from globalchat.expose import nat
from globalchat.expose.path import Path, secondNat

#: Where a sign of another NAT came from, as the user is told.
GATEWAY_ADDRESS = "the gateway's address"
STUN_MISMATCH = "STUN mismatch"
PATH_HOP = "path hop"

#: The verdicts, from best to worst.
REACHABLE = "reachable"
MAPPED = "mapped"
UNKNOWN = "unknown"
BEHIND_NAT = "behind another NAT"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Signal:
    """
    One sign of a NAT beyond the home router.

    @ivar carrierGrade: whether it points at the provider's NAT
        (100.64.0.0/10) rather than any other second router.
    """

    source: str
    text: str
    carrierGrade: bool = False

    def __str__(self) -> str:
        return f"{self.text} ({self.source})"


@dataclass(frozen=True)
class HelperAnswer:
    """
    What a helper on the internet found when it tried to connect back.

    @ivar helper: its C{HOST:PORT}.
    @ivar detail: what it said (the greeting, or why it failed).
    """

    helper: str
    connected: bool
    detail: str


@dataclass(frozen=True)
class Verdict:
    """
    One conclusion from all the witnesses.

    @ivar address: the public address to give friends, if one is known.
    """

    status: str
    address: str | None
    signals: tuple[Signal, ...] = ()
    answer: HelperAnswer | None = None


def _kindOfAddress(address: str) -> tuple[str, bool] | None:
    kind = nat.classify(address)
    if kind == nat.SHARED:
        return "in the carrier-grade NAT range 100.64.0.0/10", True
    if kind == nat.PRIVATE:
        return "private", False
    if kind == nat.OTHER:
        return "not a public address", False
    return None


def signals(gateway: str | None, stun: str | None, path: Path | None) -> tuple[Signal, ...]:
    """
    Every sign of a NAT beyond the home router.

    @param gateway: the external address the gateway reported.
    @param stun: the address a STUN server saw us come from.
    @param path: the routers on the way out.
    """
    found = []
    kind = _kindOfAddress(gateway) if gateway is not None else None
    if kind is not None:
        found.append(Signal(GATEWAY_ADDRESS, f"the router's external address {gateway} is {kind[0]}",
                            kind[1]))
    if stun is not None and gateway is not None and stun != gateway:
        found.append(Signal(STUN_MISMATCH, f"the router says its external address is {gateway} "
                                           f"but a STUN server sees {stun}"))
    hop = secondNat(path) if path is not None else None
    if hop is not None:
        number, address = hop
        what, shared = _kindOfAddress(address) or ("", False)
        found.append(Signal(PATH_HOP, f"router {number} on the way out, {address}, is {what}",
                            shared))
    return tuple(found)


def judge(gateway: str | None, stun: str | None, path: Path | None,
          answer: HelperAnswer | None = None) -> Verdict:
    """
    The decision table: gateway address x STUN address x path x helper.
    """
    found = signals(gateway, stun, path)
    public = next((a for a in (stun, gateway) if a and nat.classify(a) == nat.PUBLIC), None)
    if answer is not None:
        status = REACHABLE if answer.connected else UNREACHABLE
    elif found:
        status = BEHIND_NAT
    else:
        status = MAPPED if public else UNKNOWN
    return Verdict(status, public, found, answer)


def behind(found: Sequence[Signal]) -> str:
    """
    Name what the signals point at, plainly.
    """
    if any(s.carrierGrade for s in found):
        return "this network is behind carrier-grade NAT (your provider's)"
    return "this network is behind another NAT (double NAT)"


def friendCommand(address: str, port: int, fingerprint: str | None, web: bool = False) -> str:
    """
    The exact command that connects to the server (for a C{--web} port,
    the page to open).
    """
    if web:
        return f"a browser at {'https' if fingerprint else 'http'}://{_where(address, port)}/"
    command = f"globalchat-client {address} {port}"
    return command + f" --tls --fingerprint {fingerprint}" if fingerprint else command


def _where(address: str | None, port: int) -> str:
    if address is None:
        return f"port {port}"
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def logLine(verdict: Verdict, mappedAt: str | None, port: int, fingerprint: str | None,
            ipv6: Sequence[str] = (), web: bool = False) -> str:
    """
    What C{--expose} logs about one mapping.

    @param mappedAt: the external address the router gave the mapping.
    @param port: the external port.
    @param ipv6: this machine's global IPv6 addresses, for the advice.
    @param web: whether the port is a C{--web} one.
    """
    mapped = f"mapped on the router at {_where(mappedAt or verdict.address, port)}"
    why = "; ".join(map(str, verdict.signals))
    answer = verdict.answer
    if verdict.status == REACHABLE and verdict.address is not None:
        return (f"reachable at {_where(verdict.address, port)} (confirmed by {answer.helper}) "
                f"\N{EM DASH} {friendCommand(verdict.address, port, fingerprint, web)}")
    if verdict.status == REACHABLE:
        return (f"reachable on port {port} (confirmed by {answer.helper}), but the public "
                "address is unknown: give a STUN server with --stun HOST:PORT to learn it")
    if verdict.status == UNREACHABLE:
        because = f" ({why})" if why else ""
        return (f"{mapped}, but {answer.helper} could not connect: likely another NAT "
                f"upstream{because}; {answer.helper} said: {answer.detail}. If no firewall "
                f"blocks the port (globalchat-doctor checks), {nat.alternatives(ipv6)}")
    if verdict.status == BEHIND_NAT:
        return (f"{mapped}, but not reachable from the internet: {behind(verdict.signals)}: "
                f"{why}. A mapping on this router cannot make this server reachable; "
                f"instead {nat.alternatives(ipv6)}")
    if verdict.status == UNKNOWN:
        return (f"{mapped}, but neither the router nor a STUN server (--stun HOST:PORT) told "
                "the public address, so friends cannot be told where to connect")
    return (f"{mapped} \N{EM DASH} friends connect with "
            f"{friendCommand(verdict.address, port, fingerprint, web)}; not confirmed from outside yet")
