"""
A three-host network made of network namespaces, with the real Debian
C{miniupnpd} as the router, for end-to-end tests of port mapping.

    lan (10.77.1.2) --- (10.77.1.1) router (198.18.77.1) --- (198.18.77.2) wan

The router masquerades the LAN towards C{wan}; C{miniupnpd} on it speaks
UPnP IGD, NAT-PMP and PCP.  It refuses to forward while its external
address is reserved, unless STUN tells it a public one, so a small STUN
responder in C{wan} answers with C{PUBLIC_ADDRESS}.  Nothing outside the
namespaces made here is ever contacted: C{PUBLIC_ADDRESS} only appears in
answers.  Every namespace and process is removed again, even on failure.
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
ROUTER_WAN, WAN = "198.18.77.1", "198.18.77.2"
#: What the STUN responder in wan tells the router its address is.
PUBLIC_ADDRESS = "11.22.33.44"
STUN_PORT = 3478

STUN_RESPONDER = """
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
public = socket.inet_aton(sys.argv[3])
while True:
    data, (host, port) = s.recvfrom(2048)
    if len(data) < 20 or data[4:8] != b"\\x21\\x12\\xa4\\x42":
        continue
    cookie = 0x2112A442
    xport = port ^ (cookie >> 16)
    xaddr = bytes(a ^ b for a, b in zip(public, struct.pack("!I", cookie)))
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

MINIUPNPD_CONF = """
ext_ifname=r-wan
listening_ip=r-lan
port=5000
enable_natpmp=yes
enable_upnp=yes
ext_perform_stun=yes
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
    The three namespaces and the router's daemons.

    @ivar names: the namespace names, unique to this run, by role.
    """

    def __init__(self) -> None:
        tag = f"gc{os.getpid()}x{time.monotonic_ns() % 100000}"
        self.names = {role: f"{tag}-{role}" for role in ("lan", "router", "wan")}
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

    def _build(self) -> None:
        lan, router, wan = (self.names[r] for r in ("lan", "router", "wan"))
        for name in (lan, router, wan):
            _run("ip", "netns", "add", name)
            _run("ip", "-n", name, "link", "set", "lo", "up")
        _run("ip", "link", "add", "l-lan", "netns", lan, "type", "veth", "peer", "r-lan", "netns", router)
        _run("ip", "link", "add", "w-wan", "netns", wan, "type", "veth", "peer", "r-wan", "netns", router)
        for ns, dev, address in ((lan, "l-lan", LAN), (router, "r-lan", ROUTER_LAN),
                                 (router, "r-wan", ROUTER_WAN), (wan, "w-wan", WAN)):
            _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
        _run("ip", "-n", lan, "route", "add", "default", "via", ROUTER_LAN)
        _run("ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        rules = self._dir / "rules.nft"
        rules.write_text(NFT_RULES)
        _run("ip", "netns", "exec", router, "nft", "-f", str(rules))
        stun = self._dir / "stun.py"
        stun.write_text(STUN_RESPONDER)
        self.popen("wan", sys.executable, str(stun), WAN, str(STUN_PORT), PUBLIC_ADDRESS,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        conf = self._dir / "miniupnpd.conf"
        conf.write_text(MINIUPNPD_CONF.format(wan=WAN, stun=STUN_PORT))
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
