# -*- test-case-name: tests.test_cluster_bus -*-
"""
The Lua scripts of the cluster's bus: each change to names, rooms and
nodes is one script, so that Redis makes it whole or not at all, and two
nodes racing for a name cannot both win.

Every script takes the key prefix as C{ARGV[1]} and the database number
(for channel names) as C{ARGV[2]}, and builds the names of
L{globalchat.cluster.keys} from them (the same names; the tests check
that they agree).  A name is I{held} while its hash names a node whose
heartbeat key exists: a dead node's names are free at once, and the next
heartbeat of any live node clears them away (L{BEAT}).
"""

#: Functions every script shares.
_PRELUDE = """
local P, DB = ARGV[1], ARGV[2]
local function alive(node)
  return node and redis.call('EXISTS', P .. 'node:' .. node) == 1
end
local function holder(key)
  local node = redis.call('HGET', P .. 'name:' .. key, 'node')
  if alive(node) then return node end
  return nil
end
local function display(key)
  return redis.call('HGET', P .. 'name:' .. key, 'display')
end
-- Whether KEY (looking like SKELETON) may be taken; an error reply if not.
local function check(key, skeleton)
  if holder(key) then return {'taken', display(key)} end
  local alike = redis.call('GET', P .. 'look:' .. skeleton)
  if alike and alike ~= key and holder(alike) then return {'looks', display(alike)} end
  return nil
end
local function enterRoom(room, roomName, key)
  local members = P .. 'room:' .. room .. ':members'
  if redis.call('ZSCORE', members, key) then return 0 end
  if redis.call('HSETNX', P .. 'room:' .. room, 'name', roomName) == 1 then
    redis.call('HSET', P .. 'room:' .. room, 'topic', '')
    redis.call('SADD', P .. 'rooms', room)
  end
  local seq = redis.call('HINCRBY', P .. 'room:' .. room, 'seq', 1)
  redis.call('ZADD', members, seq, key)
  redis.call('SADD', P .. 'user:' .. key .. ':rooms', room)
  return 1
end
local function leaveRoom(room, key)
  local members = P .. 'room:' .. room .. ':members'
  redis.call('ZREM', members, key)
  redis.call('SREM', P .. 'user:' .. key .. ':rooms', room)
  local left = redis.call('ZCARD', members)
  if left == 0 then
    redis.call('DEL', P .. 'room:' .. room, members)
    redis.call('SREM', P .. 'rooms', room)
  end
  return left
end
-- Free KEY everywhere and tell its rooms it quit (event id EVENT, from NODE).
local function drop(key, event, node, reason)
  local name = P .. 'name:' .. key
  local shown = redis.call('HGET', name, 'display') or key
  local rooms = {}
  for _, room in ipairs(redis.call('SMEMBERS', P .. 'user:' .. key .. ':rooms')) do
    local before = redis.call('ZCARD', P .. 'room:' .. room .. ':members')
    leaveRoom(room, key)
    table.insert(rooms, {room, before})
  end
  local owner = redis.call('HGET', name, 'node')
  if owner then redis.call('SREM', P .. 'node:' .. owner .. ':names', key) end
  local look = redis.call('HGET', name, 'look')
  if look and redis.call('GET', P .. 'look:' .. look) == key then
    redis.call('DEL', P .. 'look:' .. look)
  end
  redis.call('DEL', name, P .. 'user:' .. key .. ':rooms')
  if #rooms > 0 then
    local text = cjson.encode({t = 'quit', n = node, e = event, name = shown,
                               why = reason, rooms = rooms})
    for _, pair in ipairs(rooms) do
      redis.call('PUBLISH', P .. DB .. ':room:' .. pair[1], text)
    end
  end
end
local function hold(key, skeleton, shown, node)
  redis.call('HSET', P .. 'name:' .. key, 'display', shown, 'node', node, 'look', skeleton)
  redis.call('SET', P .. 'look:' .. skeleton, key)
  redis.call('SADD', P .. 'node:' .. node .. ':names', key)
end
"""

#: ARGV: prefix, db, key, skeleton, display, node.
#: Returns C{{'ok'}}, C{{'taken', display}} or C{{'looks', display}}.
CLAIM = _PRELUDE + """
local key, skeleton, shown, node = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local refused = check(key, skeleton)
if refused then return refused end
if redis.call('EXISTS', P .. 'name:' .. key) == 1 then
  -- Held by a dead node: its rooms hear that it quit.
  drop(key, 'stale:' .. key .. ':' .. node, '', 'its server went away')
end
hold(key, skeleton, shown, node)
return {'ok'}
"""

#: ARGV: prefix, db, old key, new key, new skeleton, new display, node.
#: Returns as L{CLAIM} does.
RENAME = _PRELUDE + """
local old, key, skeleton, shown, node = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
if old ~= key then
  local refused = check(key, skeleton)
  if refused then return refused end
  if redis.call('EXISTS', P .. 'name:' .. key) == 1 then
    drop(key, 'stale:' .. key .. ':' .. node, '', 'its server went away')
  end
  for _, room in ipairs(redis.call('SMEMBERS', P .. 'user:' .. old .. ':rooms')) do
    local members = P .. 'room:' .. room .. ':members'
    local seq = redis.call('ZSCORE', members, old)
    redis.call('ZREM', members, old)
    redis.call('ZADD', members, seq, key)
    redis.call('SADD', P .. 'user:' .. key .. ':rooms', room)
  end
  redis.call('DEL', P .. 'user:' .. old .. ':rooms')
  local look = redis.call('HGET', P .. 'name:' .. old, 'look')
  if look and redis.call('GET', P .. 'look:' .. look) == old then
    redis.call('DEL', P .. 'look:' .. look)
  end
  redis.call('DEL', P .. 'name:' .. old)
  redis.call('SREM', P .. 'node:' .. node .. ':names', old)
end
hold(key, skeleton, shown, node)
return {'ok'}
"""

#: ARGV: prefix, db, key, event id, node, reason.  Only a name NODE holds.
QUIT = _PRELUDE + """
local key, event, node = ARGV[3], ARGV[4], ARGV[5]
if redis.call('HGET', P .. 'name:' .. key, 'node') == node then
  drop(key, event, node, ARGV[6])
end
return 1
"""

#: ARGV: prefix, db, room key, room name, name key.
#: Returns C{{new (0 or 1), room name, topic, members}}.
ENTER = _PRELUDE + """
local room, key = ARGV[3], ARGV[5]
local new = enterRoom(room, ARGV[4], key)
local info = redis.call('HMGET', P .. 'room:' .. room, 'name', 'topic')
return {new, info[1], info[2], redis.call('ZCARD', P .. 'room:' .. room .. ':members')}
"""

#: ARGV: prefix, db, room key, name key.  Returns the members left.
LEAVE = _PRELUDE + """
return leaveRoom(ARGV[3], ARGV[4])
"""

#: ARGV: prefix, db, room key, topic.
TOPIC = _PRELUDE + """
if redis.call('EXISTS', P .. 'room:' .. ARGV[3]) == 1 then
  redis.call('HSET', P .. 'room:' .. ARGV[3], 'topic', ARGV[4])
end
return 1
"""

#: ARGV: prefix, db, name key.  Returns its display if held, else nil.
ONLINE = _PRELUDE + """
if holder(ARGV[3]) then return display(ARGV[3]) end
return false
"""

#: ARGV: prefix, db, recipient key, payload (JSON text).  Publishes the
#: payload with the recipient's display to its node; returns the display,
#: or nil when nobody holds the name.
PRIVATE = _PRELUDE + """
local node = holder(ARGV[3])
if not node then return false end
local shown = display(ARGV[3])
redis.call('PUBLISH', P .. DB .. ':to:' .. node,
           cjson.encode({t = 'priv', w = shown, p = ARGV[4]}))
return shown
"""

#: ARGV: prefix, db, room key.  The displays of its members whose nodes
#: are alive, in order of arrival.
WHO = _PRELUDE + """
local shown = {}
for _, key in ipairs(redis.call('ZRANGE', P .. 'room:' .. ARGV[3] .. ':members', 0, -1)) do
  if holder(key) then table.insert(shown, display(key)) end
end
return shown
"""

#: ARGV: prefix, db.  Every room: key, name, topic, members (flat).
ROOMS = _PRELUDE + """
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', P .. 'rooms')) do
  local info = redis.call('HMGET', P .. 'room:' .. room, 'name', 'topic')
  if info[1] then
    table.insert(out, room)
    table.insert(out, info[1])
    table.insert(out, info[2] or '')
    table.insert(out, redis.call('ZCARD', P .. 'room:' .. room .. ':members'))
  end
end
return out
"""

#: ARGV: prefix, db, node, expiry (ms), now (s), then field/value pairs
#: describing the node.  Beats, then clears away every dead node's names
#: (telling their rooms).  Returns the dead nodes' ids and name counts (flat).
BEAT = _PRELUDE + """
local node, expiry, now = ARGV[3], ARGV[4], ARGV[5]
local fields = {}
for i = 6, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', P .. 'node:' .. node, 'beat', now, unpack(fields))
redis.call('PEXPIRE', P .. 'node:' .. node, expiry)
redis.call('ZADD', P .. 'nodes', now, node)
local dead = {}
for _, other in ipairs(redis.call('ZRANGE', P .. 'nodes', 0, -1)) do
  if not alive(other) then
    local held = redis.call('SMEMBERS', P .. 'node:' .. other .. ':names')
    for _, key in ipairs(held) do
      if redis.call('HGET', P .. 'name:' .. key, 'node') == other then
        drop(key, 'dead:' .. other .. ':' .. key, other, 'its server went away')
      end
    end
    redis.call('DEL', P .. 'node:' .. other .. ':names')
    redis.call('ZREM', P .. 'nodes', other)
    table.insert(dead, other)
    table.insert(dead, #held)
  end
end
return dead
"""

#: ARGV: prefix, db, node, JSON list of [key, display, skeleton, [[room
#: key, room name], ...]] for every name held on the node.  After an
#: outage, writes them again (Redis may have restarted empty, or cleared
#: the node away) and frees the names the node no longer holds.  Returns
#: the keys that another node took meanwhile.
RESYNC = _PRELUDE + """
local node = ARGV[3]
local mine, lost = {}, {}
for _, entry in ipairs(cjson.decode(ARGV[4])) do
  local key = entry[1]
  mine[key] = true
  local other = holder(key)
  if other and other ~= node then
    table.insert(lost, key)
  else
    hold(key, entry[3], entry[2], node)
    local inside = {}
    for _, room in ipairs(entry[4]) do
      enterRoom(room[1], room[2], key)
      inside[room[1]] = true
    end
    for _, room in ipairs(redis.call('SMEMBERS', P .. 'user:' .. key .. ':rooms')) do
      if not inside[room] then leaveRoom(room, key) end
    end
  end
end
for _, key in ipairs(redis.call('SMEMBERS', P .. 'node:' .. node .. ':names')) do
  if not mine[key] then drop(key, 'gone:' .. node .. ':' .. key, node, 'connection closed') end
end
return lost
"""

#: ARGV: prefix, db, node.  A node that stops frees its names at once.
LEAVE_CLUSTER = _PRELUDE + """
local node = ARGV[3]
for _, key in ipairs(redis.call('SMEMBERS', P .. 'node:' .. node .. ':names')) do
  if redis.call('HGET', P .. 'name:' .. key, 'node') == node then
    drop(key, 'stop:' .. node .. ':' .. key, node, 'server shutting down')
  end
end
redis.call('DEL', P .. 'node:' .. node, P .. 'node:' .. node .. ':names')
redis.call('ZREM', P .. 'nodes', node)
return 1
"""
