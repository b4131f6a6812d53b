package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

// The per-user index: for each user, a sorted set on the user's shard (the
// shard that owns "user:"+userID on the ring) whose members are the user's
// session IDs, scored by each session's absolute expiry (unix ms). The
// sessions themselves live on their own shards.
//
// The index never grows without bound: every IndexUser first drops members
// whose absolute expiry has passed and sets the key to expire with its last
// member; UserSessions also drops members whose session is gone (idle
// expiry, logout elsewhere); a UserSweeper does the same in the background
// for users nobody asks about.

// userShard is the shard that holds user's index (during a topology
// change, see placeFor).
func (c *Cluster) userShard(ctx context.Context, user string) (*shard.Shard, error) {
	return c.placeFor(ctx, userID(user), c.userKey(user))
}

// indexScript adds a session to a user index.
//
// KEYS[1] index key
// ARGV[1] the session's absolute expiry, unix ms; ARGV[2] session ID;
// ARGV[3] now, unix ms.
var indexScript = redis.NewScript(`
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[3])
redis.call("ZADD", KEYS[1], ARGV[1], ARGV[2])
local last = redis.call("ZRANGE", KEYS[1], -1, -1, "WITHSCORES")
redis.call("PEXPIREAT", KEYS[1], last[2])
return redis.call("ZCARD", KEYS[1])
`)

// IndexUser records session id, which expires at expireAt at the latest, in
// user's index.
func (c *Cluster) IndexUser(ctx context.Context, user, id string, expireAt time.Time) error {
	sh, err := c.userShard(ctx, user)
	if err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	return sh.Wrap(indexScript.Run(ctx, sh.Primary(), []string{c.userKey(user)}, expireAt.UnixMilli(), id, now).Err())
}

// UnindexUser removes session ids from user's index.
func (c *Cluster) UnindexUser(ctx context.Context, user string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	sh, err := c.userShard(ctx, user)
	if err != nil {
		return err
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	return sh.Wrap(sh.Primary().ZRem(ctx, c.userKey(user), members...).Err())
}

// UserSessions returns the IDs of user's live sessions, across shards. It is
// exact: it checks that each indexed session still exists on its shard, and
// removes from the index those that do not. It fails, rather than return a
// partial list, if a shard holding one of them cannot answer.
func (c *Cluster) UserSessions(ctx context.Context, user string) ([]string, error) {
	sh, err := c.userShard(ctx, user)
	if err != nil {
		return nil, err
	}
	return c.pruneIndex(ctx, sh, c.userKey(user))
}

// pruneIndex drops the stale members of the index at key on sh and returns
// the live ones.
func (c *Cluster) pruneIndex(ctx context.Context, sh *shard.Shard, key string) ([]string, error) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	p := sh.Primary().TxPipeline()
	p.ZRemRangeByScore(ctx, key, "-inf", now)
	rng := p.ZRange(ctx, key, 0, -1)
	if _, err := p.Exec(ctx); err != nil {
		return nil, sh.Wrap(err)
	}
	ids := rng.Val()
	exists, err := c.existAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	live := ids[:0:0]
	var stale []any
	for _, id := range ids {
		if exists[id] {
			live = append(live, id)
		} else {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		if err := sh.Primary().ZRem(ctx, key, stale...).Err(); err != nil {
			return nil, sh.Wrap(err)
		}
	}
	return live, nil
}

// existAll reports which of ids are stored, with one pipeline per shard.
func (c *Cluster) existAll(ctx context.Context, ids []string) (map[string]bool, error) {
	if c.snap.Load().move.slow {
		return c.existEach(ctx, ids) // a session may be on its previous owner
	}
	byShard := map[*shard.Shard][]string{}
	for _, id := range ids {
		sh := c.ShardFor(id)
		byShard[sh] = append(byShard[sh], id)
	}
	exists := make(map[string]bool, len(ids))
	for sh, ids := range byShard {
		p := sh.Primary().Pipeline()
		cmds := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, c.Key(id))
		}
		if _, err := p.Exec(ctx); err != nil {
			return nil, sh.Wrap(err)
		}
		for i, cmd := range cmds {
			exists[ids[i]] = cmd.Val() == 1
		}
	}
	return exists, nil
}
