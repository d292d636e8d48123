"""
Small networks made of network namespaces, with the real Debian
C{miniupnpd} as the home router, for end-to-end tests of reachability.

One NAT (L{NetLab}C{()}), the home router on the internet:

    lan (10.77.1.2) --- (10.77.1.1) router (45.33.32.1) --- (45.33.32.2) wan

Carrier-grade NAT (L{NetLab}C{(carrier=True)}), the home router's WAN in
the shared space 100.64.0.0/10 behind the provider's NAT:

    lan --- router (100.64.0.2) --- (100.64.0.1) carrier (45.33.32.1) --- wan

Each NAT masquerades towards the next hop out; C{miniupnpd} on the router
speaks UPnP IGD, NAT-PMP and PCP.  C{wan} stands for the internet: a STUN
responder there tells each asker the address it sees (as a real one
does).  A router whose WAN address is reserved asks it, if told to
(C{routerStun}), and reports what it learns.  The internet addresses
45.33.32.x are public ones, so that nothing is refused as documentation
space; they exist only inside these namespaces, which are connected to
nothing else.  Every namespace and process is removed again, even on
failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAN, ROUTER_LAN = "10.77.1.2", "10.77.1.1"
#: The internet side: the public address of the outermost NAT, and wan.
PUBLIC, WAN = "45.33.32.1", "45.33.32.2"
#: The home router's WAN address and the carrier NAT's inside address,
#: in the carrier-grade NAT topology.
ROUTER_SHARED, CARRIER_INSIDE = "100.64.0.2", "100.64.0.1"
STUN_PORT = 3478

STUN_RESPONDER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, (host, port) = s.recvfrom(2048)
    if len(data) < 20 or data[4:8] != b"\\x21\\x12\\xa4\\x42":
        continue
    cookie = 0x2112A442
    xport = port ^ (cookie >> 16)
    xaddr = bytes(a ^ b for a, b in zip(socket.inet_aton(host), struct.pack("!I", cookie)))
    attribute = struct.pack("!HHBBH", 0x0020, 8, 0, 1, xport) + xaddr
    s.sendto(struct.pack("!HHI", 0x0101, len(attribute), cookie) + data[8:20] + attribute, (host, port))
"""

NFT_RULES = """
table inet filter {
    chain forward {
        type filter hook forward priority 0; policy drop;
        ct state established,related accept
        iifname "r-lan" accept
        jump miniupnpd
    }
    chain miniupnpd { }
}
table inet nat {
    chain prerouting {
        type nat hook prerouting priority -100; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        jump postrouting_miniupnpd
        oifname "r-wan" masquerade
    }
    chain prerouting_miniupnpd { }
    chain postrouting_miniupnpd { }
}
"""

#: The provider's NAT: masquerade outwards, forward nothing inwards that
#: was not asked for.
CARRIER_RULES = """
table ip nat {
    chain postrouting {
        type nat hook postrouting priority 100; policy accept;
        oifname "c-wan" masquerade
    }
}
"""

MINIUPNPD_CONF = """
ext_ifname=r-wan
listening_ip=r-lan
port=5000
enable_natpmp=yes
enable_upnp=yes
ext_perform_stun={routerStun}
ext_stun_host={wan}
ext_stun_port={stun}
secure_mode=yes
system_uptime=yes
upnp_table_name=filter
upnp_nat_table_name=nat
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 10.77.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""


def unavailable() -> str | None:
    """
    Why the lab cannot run here, or C{None} when it can.
    """
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "miniupnpd"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install iproute2 nftables miniupnpd-nftables)"
    return None


def _run(*command: str, timeout: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, timeout=timeout, check=True)


class NetLab:
    """
    The namespaces and the router's daemons.

    @ivar names: the namespace names, unique to this run, by role.
    @ivar routerWan: the home router's WAN address.
    """

    def __init__(self, carrier: bool = False, routerStun: bool = True) -> None:
        """
        @param carrier: put a carrier-grade NAT between the router and wan.
        @param routerStun: let miniupnpd learn its public address by STUN.
        """
        tag = f"gc{os.getpid()}x{time.monotonic_ns() % 100000}"
        roles = ("lan", "router", "carrier", "wan") if carrier else ("lan", "router", "wan")
        self.names = {role: f"{tag}-{role}" for role in roles}
        self.routerWan = ROUTER_SHARED if carrier else PUBLIC
        self._carrier = carrier
        self._routerStun = routerStun
        self._processes: list[subprocess.Popen] = []
        self._dir = Path(tempfile.mkdtemp(prefix="netlab-"))

    def exec(self, role: str, *command: str) -> list[str]:
        """
        The argument list that runs C{command} inside namespace C{role}.
        """
        return ["ip", "netns", "exec", self.names[role], *command]

    def run(self, role: str, *command: str, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
        """
        Run C{command} in C{role} to completion, bounded by C{timeout}.
        """
        return subprocess.run(self.exec(role, *command), capture_output=True, timeout=timeout, **kw)

    def popen(self, role: str, *command: str, **kw) -> subprocess.Popen:
        """
        Start C{command} in C{role}; it is killed at tear-down.
        """
        process = subprocess.Popen(self.exec(role, *command), **kw)
        self._processes.append(process)
        return process

    def setUp(self) -> None:
        """
        Make the namespaces, links, NAT and daemons; undo all of it if any
        step fails.
        """
        try:
            self._build()
        except BaseException:
            self.tearDown()
            raise

    def _link(self, one: str, oneAddress: str, other: str, otherAddress: str, prefix: int) -> None:
        # A veth pair named after its ends: r-lan is the router's end of
        # the link to lan; the router's way out is always r-wan, which is
        # what miniupnpd and its rules name.
        ends = [(one, other, oneAddress), (other, one, otherAddress)]
        devices = ["r-wan" if role == "router" and peer != "lan" else f"{role[0]}-{peer}"
                   for role, peer, _ in ends]
        _run("ip", "link", "add", devices[0], "netns", self.names[one], "type", "veth",
             "peer", devices[1], "netns", self.names[other])
        for (role, _, address), device in zip(ends, devices):
            _run("ip", "-n", self.names[role], "addr", "add", f"{address}/{prefix}", "dev", device)
            _run("ip", "-n", self.names[role], "link", "set", device, "up")

    def _nat(self, role: str, rules: str) -> None:
        _run("ip", "netns", "exec", self.names[role], "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        path = self._dir / f"{role}.nft"
        path.write_text(rules)
        _run("ip", "netns", "exec", self.names[role], "nft", "-f", str(path))

    def _build(self) -> None:
        for name in self.names.values():
            _run("ip", "netns", "add", name)
            _run("ip", "-n", name, "link", "set", "lo", "up")
        self._link("lan", LAN, "router", ROUTER_LAN, 24)
        _run("ip", "-n", self.names["lan"], "route", "add", "default", "via", ROUTER_LAN)
        if self._carrier:
            self._link("router", ROUTER_SHARED, "carrier", CARRIER_INSIDE, 10)
            self._link("carrier", PUBLIC, "wan", WAN, 24)
            _run("ip", "-n", self.names["router"], "route", "add", "default", "via", CARRIER_INSIDE)
            self._nat("carrier", CARRIER_RULES)
        else:
            self._link("router", PUBLIC, "wan", WAN, 24)
        self._nat("router", NFT_RULES)
        stun = self._dir / "stun.py"
        stun.write_text(STUN_RESPONDER)
        self.popen("wan", sys.executable, str(stun), WAN, str(STUN_PORT),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conf = self._dir / "miniupnpd.conf"
        conf.write_text(MINIUPNPD_CONF.format(wan=WAN, stun=STUN_PORT,
                                              routerStun="yes" if self._routerStun else "no"))
        log = open(self._dir / "miniupnpd.log", "wb")
        self.popen("router", "miniupnpd", "-d", "-f", str(conf), "-P", str(self._dir / "miniupnpd.pid"),
                   stdout=log, stderr=subprocess.STDOUT)
        self._waitForRouter()

    def _waitForRouter(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = self.run("router", "ss", "-lnu").stdout
            if b":5351" in listening:
                return
            time.sleep(0.1)
        raise RuntimeError(f"miniupnpd did not start:\n{self.routerLog()}")

    def routerLog(self) -> str:
        """
        What miniupnpd has logged, for failure messages.
        """
        try:
            return (self._dir / "miniupnpd.log").read_text(errors="replace")
        except OSError:
            return ""

    def tearDown(self) -> None:
        """
        Kill every process and delete the namespaces.
        """
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()
        for name in self.names.values():
            subprocess.run(["ip", "netns", "pids", name], capture_output=True)
            killed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
            for pid in killed.stdout.split():
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self._dir, ignore_errors=True)
