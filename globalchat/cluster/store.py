# -*- test-case-name: tests.test_cluster_store,tests.test_store,tests.test_store_accounts -*-
"""
Message history, offline private messages and the known names in Redis,
shared by every node of a cluster, behind the same
L{IMessageStore} as the SQLite file (accounts and the rest:
L{globalchat.cluster.accountstore}).

Each room's history is a sorted set scored by message id, each member
the stored message as JSON; private messages are a sorted set per
recipient, and those kept for an absent recipient a set of their ids.
Ids come from one C{INCR} counter, so they increase across every room and
node, and C{@resume=N} works wherever a client reconnects.  A batch of
messages is stored by one script (one round trip, atomic: ids, the
messages, the client-id look-ups), and the sender is answered only once
Redis has replied.  All calls go through one connection, so Redis carries
them out in the order they were made.
"""

from __future__ import annotations

import json

from twisted.internet.defer import Deferred, ensureDeferred, succeed
from zope.interface import implementer

from globalchat.cluster import keys
from globalchat.cluster.accountstore import RedisAccounts
from globalchat.cluster.scripts import Script, Scripts, dumps
from globalchat.store.accounts import IAccountStore
from globalchat.store.interface import IMessageStore, Known, Message

#: How many history keys one pruning script looks at: a script blocks
#: Redis while it runs, so a long history is pruned in slices.
PRUNE_SLICE = 100

# KEYS: next id, row count, client ids, history index, then the targets.
# ARGV, three per draft: the index of its target among KEYS, the message
# as JSON without its id (the text after "[" of the whole), and the
# sender and client id to look up ("" if none).  A client id is kept as
# the id and history of its message ("ID\nKEY"), not a second copy of it.
# The ids of a batch are taken with one INCRBY and its messages written
# with one command per key, so a batch costs a few commands, not a few
# per message.
_APPEND = Script("""
local count, earlier, seen = #ARGV / 3, {}, {}
local new = 0
for n = 1, count do
    local dedup = ARGV[3 * n]
    if dedup ~= "" then
        if seen[dedup] then
            earlier[n] = seen[dedup]
        else
            local found = redis.call("HGET", KEYS[3], dedup)
            if found then earlier[n] = found else seen[dedup] = n end
        end
    end
    if not earlier[n] then new = new + 1 end
end
local last = redis.call("INCRBY", KEYS[1], new)
if last == new then
    -- No counter: a new cluster, or a Redis that lost its data.  Ids start
    -- at the time in microseconds, above any given before (at fewer than a
    -- million lines a second), so that clients holding an old id neither
    -- skip new lines as seen nor resume from the wrong place.
    local now = redis.call("TIME")
    last = now[1] * 1000000 + now[2] + new
    redis.call("SET", KEYS[1], string.format("%d", last))
end
local id = last - new
local out, written, ids, byTarget, targets = {}, {}, {}, {}, {}
for n = 1, count do
    local from = earlier[n]
    if type(from) == "number" then
        out[n + 1] = written[from]
    elseif from then
        local at, where = string.match(from, "^(%d+)\\n(.*)$")
        out[n + 1] = redis.call("ZRANGEBYSCORE", where, at, at)[1]
    else
        id = id + 1
        local target = KEYS[tonumber(ARGV[3 * n - 2])]
        written[n] = "[" .. string.format("%d", id) .. "," .. ARGV[3 * n - 1]
        if not byTarget[target] then
            byTarget[target] = {}
            targets[#targets + 1] = target
        end
        local members = byTarget[target]
        members[#members + 1] = id
        members[#members + 1] = written[n]
        if ARGV[3 * n] ~= "" then
            ids[#ids + 1] = ARGV[3 * n]
            ids[#ids + 1] = string.format("%d", id) .. "\\n" .. target
        end
        out[n + 1] = id
    end
end
-- A script may pass only so many arguments to one command.
local function inSlices(command, key, args)
    for i = 1, #args, 2000 do
        redis.call(command, key, unpack(args, i, math.min(i + 1999, #args)))
    end
end
for _, target in ipairs(targets) do inSlices("ZADD", target, byTarget[target]) end
inSlices("HSET", KEYS[3], ids)
inSlices("SADD", KEYS[4], targets)
out[1] = redis.call("INCRBY", KEYS[2], new)
return out
""")

# KEYS: the histories to look in.  ARGV: the id to start after, how many.
_MISSED = Script("""
local out = {}
for _, key in ipairs(KEYS) do
    local found = redis.call("ZREVRANGEBYSCORE", key, "+inf", "(" .. ARGV[1],
                             "LIMIT", 0, ARGV[2])
    for _, m in ipairs(found) do out[#out + 1] = m end
end
return out
""")

# KEYS: the recipient's kept ids, its private messages.
_TAKE = Script("""
local out = {}
for _, id in ipairs(redis.call("ZRANGE", KEYS[1], 0, -1)) do
    local m = redis.call("ZRANGEBYSCORE", KEYS[2], id, id)
    if m[1] then out[#out + 1] = m[1] end
end
redis.call("DEL", KEYS[1])
return out
""")

# KEYS: row count, client ids, history index, then for each history its
# key and its kept ids (private) or its key again (a room).  ARGV: the
# time before which messages go ("" for none), how many a room keeps
# ("" for all), then "r" (room) or "p" (private) per history.  Ids follow
# time, so the old messages are the first ones: the scan stops at the
# first that is new enough.
_PRUNE = Script("""
local before, keep = tonumber(ARGV[1]), tonumber(ARGV[2])
local removed = 0
local function drop(key, members)
    for _, m in ipairs(members) do
        local d = cjson.decode(m)
        if d[8] ~= cjson.null then redis.call("HDEL", KEYS[2], d[4] .. "\\n" .. d[8]) end
        redis.call("ZREM", key, m)
    end
    removed = removed + #members
end
for i = 4, #KEYS, 2 do
    local key, kept = KEYS[i], KEYS[i + 1]
    local room = ARGV[i / 2 + 1] == "r"
    if before then
        local start, done = 0, false
        while not done do
            local slice = redis.call("ZRANGE", key, start, start + 99)
            if #slice == 0 then break end
            local old = {}
            for _, m in ipairs(slice) do
                local d = cjson.decode(m)
                if d[2] >= before then done = true break end
                if room or not redis.call("ZSCORE", kept, d[1]) then
                    old[#old + 1] = m
                else
                    start = start + 1
                end
            end
            drop(key, old)
        end
    end
    if keep and room then
        local extra = redis.call("ZCARD", key) - keep
        if extra > 0 then drop(key, redis.call("ZRANGE", key, 0, extra - 1)) end
    end
    if redis.call("EXISTS", key) == 0 then redis.call("SREM", KEYS[3], key) end
end
return {removed, redis.call("DECRBY", KEYS[1], removed)}
""")


def _message(stored: str) -> Message:
    id, time, room, sender, recipient, kind, text, clientId = json.loads(stored)
    return Message(time, room, sender, recipient, kind, text, clientId, id)


def _dedup(sender: str, clientId: str) -> str:
    return f"{sender}\n{clientId}"


@implementer(IMessageStore, IAccountStore)
class RedisStore(RedisAccounts):
    """
    The history, offline messages, known names and accounts of a cluster.

    @param redis: one txredisapi connection (not a pool: one connection
        keeps the calls in order), made and kept up by the caller.
    """

    def __init__(self, redis) -> None:
        self._redis = redis
        self._scripts = Scripts(redis)
        #: The cluster's message count, as of this node's last write.
        self.rows = 0

    def load(self) -> dict[str, Known]:
        # Nothing to check before the reactor runs: the connection is
        # made (and refused with one clear line) by the cluster's start.
        # Known names are read when needed, since other nodes add them.
        return {}

    def start(self) -> None:
        def counted(rows: str | None) -> None:
            self.rows = int(rows or 0)

        self._redis.execute("GET", keys.MESSAGES).addCallbacks(counted, lambda f: None)

    def append(self, drafts: list[Message]) -> Deferred[list[tuple[Message, bool]]]:
        touched = [keys.NEXT_ID, keys.MESSAGES, keys.CLIENT_IDS, keys.HISTORIES]
        where: dict[str, int] = {}
        args: list[object] = []
        for draft in drafts:
            target = (keys.history(draft.room) if draft.room is not None
                      else keys.private(draft.recipient))
            if target not in where:
                touched.append(target)
                where[target] = len(touched)
            body = dumps([draft.time, draft.room, draft.sender, draft.recipient, draft.kind,
                          draft.text, draft.clientId])
            args += [where[target], body[1:],
                     _dedup(draft.sender, draft.clientId) if draft.clientId is not None else ""]

        def stored(reply: list) -> list[tuple[Message, bool]]:
            rows, *outcomes = reply
            self.rows = int(rows)
            results = []
            for draft, outcome in zip(drafts, outcomes):
                if isinstance(outcome, int):
                    results.append((Message(draft.time, draft.room, draft.sender,
                                            draft.recipient, draft.kind, draft.text,
                                            draft.clientId, outcome), False))
                else:
                    results.append((_message(outcome), True))
            return results

        return self._scripts.run(_APPEND, touched, args).addCallback(stored)

    def history(self, room: str, limit: int) -> Deferred[list[Message]]:
        if limit <= 0:
            return succeed([])
        d = self._redis.execute("ZREVRANGE", keys.history(room), 0, limit - 1)
        return d.addCallback(lambda found: [_message(m) for m in reversed(found)])

    def missed(self, recipient: str, rooms: list[str], afterId: int,
               limit: int) -> Deferred[list[Message]]:
        if limit <= 0:
            return succeed([])
        # A guest (no account) has no private history to read.
        histories = [*map(keys.history, rooms),
                     *([keys.private(recipient)] if recipient is not None else [])]

        def newest(found: list[str]) -> list[Message]:
            messages = sorted(map(_message, found), key=lambda m: m.id)
            return messages[max(len(messages) - limit, 0):]

        return self._scripts.run(_MISSED, histories, [afterId, limit]).addCallback(newest)

    def queue(self, recipient: str, messageId: int) -> Deferred[None]:
        d = self._redis.execute("ZADD", keys.pending(recipient), messageId,
                                        messageId)
        return d.addCallback(lambda _: None)

    def takePending(self, recipient: str) -> Deferred[list[Message]]:
        d = self._scripts.run(_TAKE, [keys.pending(recipient), keys.private(recipient)])
        return d.addCallback(lambda found: [_message(m) for m in found])

    def remember(self, key: str, known: Known, now: float) -> Deferred[None]:
        d = self._redis.execute("HSET", keys.KNOWN, key,
                                        dumps([known.display, list(known.rooms), now]))
        return d.addCallback(lambda _: None)

    def known(self, key: str) -> Deferred[Known | None]:
        def found(record: str | None) -> Known | None:
            if record is None:
                return None
            display, rooms, _ = json.loads(record)
            return Known(display, tuple(rooms))

        return self._redis.execute("HGET", keys.KNOWN, key).addCallback(found)

    async def _prune(self, before: float | None, keepPerRoom: int | None) -> int:
        removed = 0
        cursor = "0"
        fixed = [keys.MESSAGES, keys.CLIENT_IDS, keys.HISTORIES]
        bounds = ["" if before is None else repr(before),
                  "" if keepPerRoom is None else keepPerRoom]
        while True:
            cursor, histories = await self._redis.execute(
                "SSCAN", keys.HISTORIES, cursor, "COUNT", PRUNE_SLICE)
            if histories:
                touched, kinds = list(fixed), list(bounds)
                for history in histories:
                    kept = keys.pendingOf(history)
                    touched += [history, kept or history]
                    kinds.append("r" if kept is None else "p")
                count, rows = await self._scripts.run(_PRUNE, touched, kinds)
                removed += count
                self.rows = int(rows)
            if str(cursor) == "0":
                return removed

    def prune(self, before: float | None, keepPerRoom: int | None) -> Deferred[int]:
        return ensureDeferred(self._prune(before, keepPerRoom))

    def close(self) -> Deferred[None]:
        # Replies come in order: once PING's is here, every earlier call's is.
        d = self._redis.execute("PING")
        return d.addCallbacks(lambda _: None, lambda _: None)
