# -*- test-case-name: tests.test_store_accounts -*-
"""
Accounts, certificates, registered rooms, bans and the audit log in
Redis, for every node of a cluster: L{IAccountStore} mixed into
L{globalchat.cluster.store.RedisStore}, on the same connection as the
messages, so calls are carried out in the order they were made.

An account is three entries (its name, look-alike skeleton and creation
time; its password hash; whether it is an operator), so that changing the
password or the operator flag never rewrites the rest; every step that
checks and changes together (a name or a skeleton taken, a certificate
bound already) is one script, atomic across nodes.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred, succeed

from globalchat.cluster import keys
from globalchat.cluster.scripts import Script, Scripts, dumps
from globalchat.store.accounts import Account, AuditEvent, Ban, RoomRecord, checkFingerprint

# KEYS: accounts, skeletons, passwords, operators.  ARGV: "key" or
# "skeleton", then which.
_ACCOUNT = Script("""
local key = ARGV[2]
if ARGV[1] == "skeleton" then key = redis.call("HGET", KEYS[2], ARGV[2]) end
if not key then return false end
local account = redis.call("HGET", KEYS[1], key)
if not account then return false end
return {key, account, redis.call("HGET", KEYS[3], key), redis.call("SISMEMBER", KEYS[4], key)}
""")

# KEYS: accounts, skeletons, passwords, operators.
_ACCOUNTS = Script("""
return {redis.call("HGETALL", KEYS[1]), redis.call("HGETALL", KEYS[3]),
        redis.call("SMEMBERS", KEYS[4])}
""")

# KEYS: accounts, skeletons, passwords, operators.  ARGV: key, the
# account as JSON, skeleton, password hash, "1" for an operator.
_CREATE = Script("""
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 or redis.call("HEXISTS", KEYS[2], ARGV[3]) == 1 then
    return 0
end
redis.call("HSET", KEYS[1], ARGV[1], ARGV[2])
redis.call("HSET", KEYS[2], ARGV[3], ARGV[1])
redis.call("HSET", KEYS[3], ARGV[1], ARGV[4])
if ARGV[5] == "1" then redis.call("SADD", KEYS[4], ARGV[1]) end
return 1
""")

# KEYS: accounts, then the hash or set to change.  ARGV: key, then the
# command and its arguments after the key.
_CHANGE = Script("""
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call(ARGV[2], KEYS[2], unpack(ARGV, 3))
return 1
""")

# KEYS: accounts, skeletons, passwords, operators, certificates, the
# account's certificates.  ARGV: key.
_DELETE = Script("""
local account = redis.call("HGET", KEYS[1], ARGV[1])
if not account then return 0 end
redis.call("HDEL", KEYS[2], cjson.decode(account)[2])
redis.call("HDEL", KEYS[1], ARGV[1])
redis.call("HDEL", KEYS[3], ARGV[1])
redis.call("SREM", KEYS[4], ARGV[1])
for _, fingerprint in ipairs(redis.call("SMEMBERS", KEYS[6])) do
    redis.call("HDEL", KEYS[5], fingerprint)
end
redis.call("DEL", KEYS[6])
return 1
""")

# KEYS: accounts, certificates, the account's certificates.  ARGV: key,
# fingerprint.
_BIND = Script("""
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call("HSETNX", KEYS[2], ARGV[2], ARGV[1]) == 0 then return 0 end
redis.call("SADD", KEYS[3], ARGV[2])
return 1
""")

# KEYS: certificates, the account's certificates.  ARGV: key, fingerprint.
_UNBIND = Script("""
if redis.call("HGET", KEYS[1], ARGV[2]) ~= ARGV[1] then return 0 end
redis.call("HDEL", KEYS[1], ARGV[2])
redis.call("SREM", KEYS[2], ARGV[2])
return 1
""")

# KEYS: bans.  ARGV: now.  Those ended go; the others are returned.
_BANS = Script("""
local now, out = tonumber(ARGV[1]), {}
local all = redis.call("HGETALL", KEYS[1])
for i = 1, #all, 2 do
    local untilTime = cjson.decode(all[i + 1])[3]
    if untilTime ~= cjson.null and untilTime <= now then
        redis.call("HDEL", KEYS[1], all[i])
    else
        out[#out + 1] = all[i + 1]
    end
end
return out
""")


def _account(key: str, stored: str, passwordHash: str, operator: object) -> Account:
    display, skeleton, created = json.loads(stored)
    return Account(key, display, skeleton, json.loads(passwordHash), created,
                   bool(int(operator)))


def _room(stored: str) -> RoomRecord:
    key, display, founder, ops, voices, modes, roomKey, topic, invited = json.loads(stored)
    return RoomRecord(key, display, founder, tuple(ops), tuple(voices), modes, roomKey, topic,
                      tuple(invited))


def _pairs(flat: list) -> dict:
    return dict(zip(flat[::2], flat[1::2]))


def _changed(reply: object) -> bool:
    return int(reply) > 0


class RedisAccounts:
    """
    The L{IAccountStore} half of the Redis store.

    @ivar _redis: the connection, set by the class this is mixed into.
    @ivar _scripts: runs scripts on it, likewise.
    """

    _scripts: Scripts

    def _run(self, *command: object) -> Deferred:
        return self._redis.execute(*command)

    def _found(self, reply: list | None) -> Account | None:
        return None if not reply else _account(*reply)

    def account(self, key: str) -> Deferred[Account | None]:
        return self._scripts.run(_ACCOUNT, keys.ACCOUNT, ["key", key]).addCallback(
            self._found)

    def accountBySkeleton(self, skeleton: str) -> Deferred[Account | None]:
        return self._scripts.run(_ACCOUNT, keys.ACCOUNT, ["skeleton", skeleton]).addCallback(
            self._found)

    def createAccount(self, account: Account) -> Deferred[bool]:
        return self._scripts.run(_CREATE, keys.ACCOUNT, [
            account.key, dumps([account.display, account.skeleton, account.created]),
            account.skeleton, dumps(account.passwordHash), "1" if account.operator else "0",
        ]).addCallback(_changed)

    def setPassword(self, key: str, passwordHash: str) -> Deferred[bool]:
        return self._scripts.run(_CHANGE, [keys.ACCOUNTS, keys.PASSWORDS],
                                 [key, "HSET", key, dumps(passwordHash)]).addCallback(_changed)

    def setOperator(self, key: str, flag: bool) -> Deferred[bool]:
        return self._scripts.run(_CHANGE, [keys.ACCOUNTS, keys.OPERATORS],
                                 [key, "SADD" if flag else "SREM", key]).addCallback(_changed)

    def deleteAccount(self, key: str) -> Deferred[bool]:
        return self._scripts.run(_DELETE, [*keys.ACCOUNT, keys.CERTIFICATES,
                                           keys.certificates(key)], [key]).addCallback(_changed)

    def accounts(self) -> Deferred[list[Account]]:
        def found(reply: list) -> list[Account]:
            stored, passwords, operators = _pairs(reply[0]), _pairs(reply[1]), set(reply[2])
            return [_account(key, stored[key], passwords[key], key in operators)
                    for key in sorted(stored)]

        return self._scripts.run(_ACCOUNTS, keys.ACCOUNT).addCallback(found)

    def bindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        return self._scripts.run(
            _BIND, [keys.ACCOUNTS, keys.CERTIFICATES, keys.certificates(key)],
            [key, checkFingerprint(fingerprint)]).addCallback(_changed)

    def unbindCertificate(self, key: str, fingerprint: str) -> Deferred[bool]:
        return self._scripts.run(
            _UNBIND, [keys.CERTIFICATES, keys.certificates(key)],
            [key, checkFingerprint(fingerprint)]).addCallback(_changed)

    def certificates(self, key: str) -> Deferred[list[str]]:
        return self._run("SMEMBERS", keys.certificates(key)).addCallback(
            sorted)

    def certificateOwner(self, fingerprint: str) -> Deferred[str | None]:
        return self._run("HGET", keys.CERTIFICATES, checkFingerprint(fingerprint))

    def saveRoom(self, record: RoomRecord) -> Deferred[None]:
        stored = dumps([record.key, record.display, record.founder, list(record.ops),
                        list(record.voices), record.modes, record.roomKey, record.topic,
                        list(record.invited)])
        return self._run("HSET", keys.REGISTERED, record.key, stored).addCallback(
            lambda _: None)

    def dropRoom(self, key: str) -> Deferred[bool]:
        return self._run("HDEL", keys.REGISTERED, key).addCallback(_changed)

    def rooms(self) -> Deferred[list[RoomRecord]]:
        def found(flat: list) -> list[RoomRecord]:
            stored = _pairs(flat)
            return [_room(stored[key]) for key in sorted(stored)]

        return self._run("HGETALL", keys.REGISTERED).addCallback(found)

    def addBan(self, ban: Ban) -> Deferred[None]:
        stored = dumps([ban.mask, ban.kind, ban.until, ban.reason, ban.setBy, ban.created])
        return self._run("HSET", keys.BANS, ban.mask, stored).addCallback(
            lambda _: None)

    def removeBan(self, mask: str) -> Deferred[bool]:
        return self._run("HDEL", keys.BANS, mask).addCallback(_changed)

    def bans(self, now: float) -> Deferred[list[Ban]]:
        def found(stored: list[str]) -> list[Ban]:
            return sorted((Ban(*json.loads(ban)) for ban in stored),
                          key=lambda b: (b.created, b.mask))

        return self._scripts.run(_BANS, [keys.BANS], [repr(now)]).addCallback(found)

    def audit(self, event: AuditEvent) -> Deferred[None]:
        stored = dumps([event.time, event.actor, event.action, event.target, event.reason])
        return self._run("RPUSH", keys.AUDIT, stored).addCallback(lambda _: None)

    def auditLog(self, limit: int) -> Deferred[list[AuditEvent]]:
        if limit <= 0:
            return succeed([])
        d = self._run("LRANGE", keys.AUDIT, -limit, -1)
        return d.addCallback(lambda found: [AuditEvent(*json.loads(e)) for e in found])
