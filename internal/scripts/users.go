package scripts

import (
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Index adds a session to a user index: a sorted set of session IDs scored
// by each session's absolute expiry (unix ms). It first drops members whose
// expiry has passed, and makes the key expire with its last member, so an
// index never outlives its sessions. Beyond ARGV[4] members it removes the
// members with the lowest scores (the oldest logins, other than the one
// added) and returns them, for the caller to end.
//
// KEYS[1] index key
// ARGV[1] the session's absolute expiry, unix ms; ARGV[2] session ID;
// ARGV[3] now, unix ms; ARGV[4] the most members to keep, 0 for no bound.
var Index = redis.NewScript(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[3])
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
local evicted = {}
local over = redis.call("ZCARD", KEYS[1]) - tonumber(ARGV[4])
if tonumber(ARGV[4]) > 0 and over > 0 then
  for _, id in ipairs(redis.call("ZRANGE", KEYS[1], 0, over)) do
    if id ~= ARGV[2] and #evicted < over then
      evicted[#evicted + 1] = id
      redis.call("ZREM", KEYS[1], id)
    end
  end
end
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return evicted
`)

// IndexArgs encodes the ARGV of Index for session id, which expires at
// expireAt at the latest, in an index of at most limit sessions (≤ 0: no
// bound).
func IndexArgs(id string, expireAt time.Time, limit int) []any {
	return []any{expireAt.UnixMilli(), id, time.Now().UnixMilli(), max(limit, 0)}
}

// Members converts IDs into the arguments of ZREM.
func Members(ids []string) []any {
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	return members
}

// Now is the current time as the score bound that drops expired index
// members (ZREMRANGEBYSCORE key -inf Now()).
func Now() string { return strconv.FormatInt(time.Now().UnixMilli(), 10) }

// Live splits the members of a user index into the sessions that exist and
// the stale ones (exists says which are stored), to be removed with ZREM.
func Live(ids []string, exists func(id string) bool) (live []string, stale []any) {
	live = ids[:0:0]
	for _, id := range ids {
		if exists(id) {
			live = append(live, id)
		} else {
			stale = append(stale, id)
		}
	}
	return live, stale
}
