package cluster

import (
	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/store"
)

// The scripts of the copy mover (copymove.go). Each runs on one standalone
// primary and reads or writes a record and its mark or tombstone, two keys:
// they are for the ring backend only, never Redis Cluster. Record types
// are the three the cluster stores (keys.go): "hash" (a session, its
// version in store.VersionField), "zset" (a user index) and "string" (a
// session lock). A record's contents travel as the flat list HGETALL,
// ZRANGE WITHSCORES (member, score...) or GET returns; its expiry as an
// absolute time in unix ms by the source's clock, "0" for none.

// moveMarkScript marks a record as being moved by ARGV[1] and returns it,
// unless another mover's mark is live.
//
// KEYS[1] record, KEYS[2] its mark; ARGV[1] token, ARGV[2] lease (ms),
// ARGV[3] the mark's own TTL (ms, garbage collection only).
// Returns {"none"} if there is no record to move (a stale mark is then
// dropped), {"busy", ms left} if another mover's lease is live, or
// {type, expiry, contents...}.
var moveMarkScript = redis.NewScript(`
local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call("GET", KEYS[2])
if m and string.sub(m, 1, #ARGV[1] + 1) ~= ARGV[1] .. ":" then
  local dl = tonumber(string.match(m, ":(%d+)$") or "0")
  if dl > now then return {"busy", string.format("%.0f", dl - now)} end
end
local typ = redis.call("TYPE", KEYS[1]).ok
if typ ~= "hash" and typ ~= "zset" and typ ~= "string" then
  if m then redis.call("DEL", KEYS[2]) end
  return {"none"}
end
local pttl = redis.call("PTTL", KEYS[1])
local exp = "0"
if pttl > 0 then exp = string.format("%.0f", now + pttl) end
redis.call("SET", KEYS[2], ARGV[1] .. ":" .. string.format("%.0f", now + tonumber(ARGV[2])), "PX", ARGV[3])
local data
if typ == "hash" then
  data = redis.call("HGETALL", KEYS[1])
elseif typ == "zset" then
  data = redis.call("ZRANGE", KEYS[1], 0, -1, "WITHSCORES")
else
  data = {redis.call("GET", KEYS[1])}
end
local out = {typ, exp}
for i = 1, #data do out[#out + 1] = data[i] end
return out
`)

// moveWriteLua writes a record of type ARGV[1] with expiry ARGV[2] and
// contents ARGV[3...] into KEYS[1], which does not exist (zset members are
// added with GT, so that over an existing index it merges).
const moveWriteLua = `
local function write(gt)
  if ARGV[1] == "hash" then
    for i = 3, #ARGV, 1000 do redis.call("HSET", KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
  elseif ARGV[1] == "zset" then
    local z = {}
    for i = 3, #ARGV - 1, 2 do z[#z + 1] = ARGV[i + 1]; z[#z + 1] = ARGV[i] end
    for i = 1, #z, 1000 do
      if gt then
        redis.call("ZADD", KEYS[1], "GT", unpack(z, i, math.min(i + 999, #z)))
      else
        redis.call("ZADD", KEYS[1], unpack(z, i, math.min(i + 999, #z)))
      end
    end
  else
    redis.call("SET", KEYS[1], ARGV[3])
  end
  if ARGV[2] ~= "0" then
    if gt then redis.call("PEXPIREAT", KEYS[1], ARGV[2], "GT") else redis.call("PEXPIREAT", KEYS[1], ARGV[2]) end
  end
end
`

// moveCopyScript creates the record on the new owner if it is absent there
// and no tombstone says it was deleted during the change. Never REPLACE:
// a record present there is newer or a conflict, settled by the caller.
//
// KEYS[1] record, KEYS[2] its tombstone; ARGV as moveWriteLua's.
// Returns 1 copied, 0 present, -1 tombstoned.
var moveCopyScript = redis.NewScript(moveWriteLua + `
if redis.call("EXISTS", KEYS[2]) == 1 then return -1 end
if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
write(false)
return 1
`)

// moveReplaceScript replaces a session on the new owner by the moved copy,
// which has a higher version, if the new owner's is still the version
// ARGV[3] that the caller compared with.
//
// KEYS[1] record, KEYS[2] its tombstone; ARGV[1] "hash", ARGV[2] expiry,
// ARGV[3] the version expected, ARGV[4...] the fields.
// Returns 1 replaced, 0 changed meanwhile (compare again), -1 tombstoned.
var moveReplaceScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 1 then return -1 end
if redis.call("EXISTS", KEYS[1]) == 0 or (redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "") ~= ARGV[3] then return 0 end
redis.call("DEL", KEYS[1])
for i = 4, #ARGV, 1000 do redis.call("HSET", KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
if ARGV[2] ~= "0" then redis.call("PEXPIREAT", KEYS[1], ARGV[2]) end
return 1
`)

// moveMergeScript merges a moved user index into the new owner's: each
// member keeps its higher score, the index its later expiry.
//
// KEYS[1] record, KEYS[2] its tombstone; ARGV as moveWriteLua's ("zset").
// Returns 1 merged, 0 absent (copy instead), -1 tombstoned.
var moveMergeScript = redis.NewScript(moveWriteLua + `
if redis.call("EXISTS", KEYS[2]) == 1 then return -1 end
if redis.call("EXISTS", KEYS[1]) == 0 then return 0 end
write(true)
return 1
`)

// moveFinishScript deletes the moved record from its previous owner if the
// mark is still the caller's, and only what was copied: a session whose
// version is unchanged, a lock whose holder is unchanged, the index
// members whose score is unchanged. The mark goes in any case.
//
// KEYS[1] record, KEYS[2] its mark; ARGV[1] token, ARGV[2] type; ARGV[3]
// the version ("hash") or value ("string") copied, or ARGV[3...] the
// members and scores copied ("zset").
// Returns 1 done, 0 the mark is not the caller's any more, 2 something was
// written since the mark and is left for another round.
var moveFinishScript = redis.NewScript(`
local m = redis.call("GET", KEYS[2])
if not m or string.sub(m, 1, #ARGV[1] + 1) ~= ARGV[1] .. ":" then return 0 end
redis.call("DEL", KEYS[2])
local typ = redis.call("TYPE", KEYS[1]).ok
if typ == "none" then return 1 end
if typ ~= ARGV[2] then return 2 end
if typ == "hash" then
  if (redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "") ~= (ARGV[3] or "") then return 2 end
  redis.call("DEL", KEYS[1])
  return 1
elseif typ == "string" then
  if redis.call("GET", KEYS[1]) ~= ARGV[3] then return 2 end
  redis.call("DEL", KEYS[1])
  return 1
end
for i = 3, #ARGV - 1, 2 do
  local s = redis.call("ZSCORE", KEYS[1], ARGV[i])
  if s and tonumber(s) == tonumber(ARGV[i + 1]) then redis.call("ZREM", KEYS[1], ARGV[i]) end
end
if redis.call("EXISTS", KEYS[1]) == 1 then return 2 end
return 1
`)

// moveReleaseScript drops the caller's mark without moving anything.
//
// KEYS[1] mark; ARGV[1] token.
var moveReleaseScript = redis.NewScript(`
local m = redis.call("GET", KEYS[1])
if m and string.sub(m, 1, #ARGV[1] + 1) == ARGV[1] .. ":" then return redis.call("DEL", KEYS[1]) end
return 0
`)

// deleteUnmarkedScript deletes a session from its previous owner unless it
// is being moved: a delete must not slip between a mover's read and its
// copy, or the copy would bring the session back.
//
// KEYS[1] record, KEYS[2] its mark. Returns -1 marked, else DEL's reply.
var deleteUnmarkedScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 1 then return -1 end
return redis.call("DEL", KEYS[1])
`)

// deleteTombScript deletes a session from its new owner and leaves a
// tombstone there, which keeps a late copy by a stalled mover from bringing
// it back.
//
// KEYS[1] record, KEYS[2] its tombstone; ARGV[1] the tombstone's TTL, ms.
var deleteTombScript = redis.NewScript(`
redis.call("SET", KEYS[2], "1", "PX", ARGV[1])
return redis.call("DEL", KEYS[1])
`)
