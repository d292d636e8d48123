# -*- test-case-name: tests.test_cluster_status -*-
"""
C{globalchat-doctor --cluster URL}: what a cluster's Redis says about it.
Which nodes are alive, how many clients each holds and how long ago it
last gave a heartbeat; which died and when; whether Redis keeps what it
confirmed across a crash; and how much the cluster keeps.  Each line is a
L{Check} like the reachability checks', so a script reads the exit status.
"""

from __future__ import annotations

from globalchat.cluster import keys
from globalchat.cluster.oneshot import Unusable, clusterRedis
from globalchat.localchecks import OK, PROBLEM, SKIPPED, Check

#: What to do when Redis would lose confirmed lines in a crash.
PERSISTENCE_FIX = ("in redis.conf set 'appendonly yes' and 'appendfsync always' (or "
                   "'everysec', see docs/scaling.md), or now: redis-cli CONFIG SET appendonly "
                   "yes; redis-cli CONFIG SET appendfsync always; redis-cli CONFIG REWRITE")


def _info(text: str) -> dict[str, str]:
    """
    The C{field:value} lines of an C{INFO} reply.
    """
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


async def _persistence(redis, info: dict[str, str]) -> Check:
    name = "persistence"
    if info.get("aof_enabled") != "1":
        return Check(name, PROBLEM, "appendonly is off: a Redis crash loses every line since "
                     "its last snapshot, even lines already confirmed to their senders",
                     PERSISTENCE_FIX)
    try:
        _, fsync = await redis.execute("CONFIG", "GET", "appendfsync")
    except Exception:
        # Hosted Redis often refuses CONFIG: the file is on, its pace unknown.
        return Check(name, SKIPPED, "appendonly is on; appendfsync cannot be read "
                     "(CONFIG is refused)", "")
    if fsync == "always":
        return Check(name, OK, "appendonly yes, appendfsync always: a confirmed line "
                     "survives a crash of Redis or of its machine")
    if fsync == "everysec":
        return Check(name, OK, "appendonly yes, appendfsync everysec: a crash of Redis's "
                     "machine can lose the last second of confirmed lines")
    return Check(name, PROBLEM, f"appendonly yes, appendfsync {fsync}: the system decides "
                 "when lines reach the disk, so a power cut can lose many seconds of them",
                 PERSISTENCE_FIX)


async def _nodes(redis, now: float) -> list[Check]:
    found = await redis.execute("ZRANGE", keys.NODES, 0, -1, "WITHSCORES")
    if not found:
        return [Check("nodes", PROBLEM, "no node has ever joined this cluster",
                      "start twistd globalchat with --cluster and this URL")]
    checks = []
    for nodeId, beat in zip(found[::2], found[1::2]):
        flat = await redis.execute("HGETALL", keys.node(nodeId))
        node = dict(zip(flat[::2], flat[1::2]))
        name = f"node {nodeId}"
        age = max(now - float(node.get("beat", beat)), 0.0)
        if not node:
            checks.append(Check(name, PROBLEM, f"dead: no heartbeat for {_ago(age)} (a node "
                                f"counts as dead {keys.HEARTBEAT_EXPIRY:g} s after its last)",
                                "restart it; its users' names are free again, and their "
                                "clients reconnect to the other nodes"))
            continue
        where = f"on {node.get('host', '?')} (pid {node.get('pid', '?')})"
        started = node.get("started")
        up = f", up {_ago(now - float(started))}" if started else ""
        checks.append(Check(name, OK, f"{where}: {node.get('clients', '?')} clients, last "
                            f"heartbeat {_ago(age)} ago{up}"))
    return checks


async def clusterChecks(redis, address: str, now: float) -> list[Check]:
    """
    The checks of the cluster whose Redis C{redis} is connected to.

    @param redis: anything whose C{execute(*command)} answers with a
        L{Deferred}, as L{globalchat.cluster.connection.Redis}.
    @param address: the Redis, as shown (without its password).
    @param now: the time, to tell heartbeat ages.
    """
    info = _info(await redis.execute("INFO"))
    memory = info.get("used_memory_human", "?")
    checks = [Check("redis", OK, f"{address}: Redis {info.get('redis_version', '?')}, "
                    f"{memory} used, {info.get('connected_clients', '?')} connections")]
    checks.append(await _persistence(redis, info))
    checks += await _nodes(redis, now)
    messages = await redis.execute("GET", keys.MESSAGES)
    rooms = await redis.execute("SCARD", keys.ROOMS)
    accounts = await redis.execute("HLEN", keys.ACCOUNTS)
    checks.append(Check("kept", OK, f"{int(messages or 0)} messages, {rooms} rooms in use, "
                        f"{accounts} accounts"))
    return checks


async def connectAndCheck(reactor, url: str) -> list[Check]:
    """
    Connect to the cluster's Redis at C{url} and check it; a Redis that
    cannot be used is one problem saying why.
    """
    try:
        async with clusterRedis(reactor, url) as (redis, address):
            return await clusterChecks(redis, address, reactor.seconds())
    except Unusable as e:
        return [Check("redis", PROBLEM, str(e))]
