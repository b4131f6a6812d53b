package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
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

// IndexUser records session id, which expires at expireAt at the latest, in
// user's index.
func (c *Cluster) IndexUser(ctx context.Context, user, id string, expireAt time.Time) error {
	_, err := c.IndexUserCapped(ctx, user, id, expireAt, 0)
	return err
}

// IndexUserCapped is IndexUser for an index of at most limit sessions
// (limit ≤ 0: no bound): when id makes one too many, the sessions with the earliest
// expiries (the oldest logins) leave the index, and are returned for the
// caller to end with Delete.
func (c *Cluster) IndexUserCapped(ctx context.Context, user, id string, expireAt time.Time, limit int) (evicted []string, err error) {
	sh, err := c.userShard(ctx, user)
	if err != nil {
		return nil, err
	}
	evicted, err = scripts.Index.Run(ctx, sh.Primary(), []string{c.userKey(user)}, scripts.IndexArgs(id, expireAt, limit)...).StringSlice()
	return evicted, sh.Wrap(err)
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
	return sh.Wrap(sh.Primary().ZRem(ctx, c.userKey(user), scripts.Members(ids)...).Err())
}

// UserSessions returns the IDs of user's live sessions, across shards. It is
// exact: it checks that each indexed session still exists on its shard, and
// removes from the index those that do not. It fails, rather than return a
// partial list, if a shard holding one of them cannot answer.
func (c *Cluster) UserSessions(ctx context.Context, user string) ([]string, error) {
	ids, _, err := c.UserSessionFields(ctx, user)
	return ids, err
}

// UserSessionFields is UserSessions that also reads the named fields of each
// live session (not its values): fields has an entry per ID returned,
// holding the named fields its record has; a key that is not a hash has an
// empty entry. The reads are one HMGET per session, pipelined per shard.
func (c *Cluster) UserSessionFields(ctx context.Context, user string, names ...string) (ids []string, fields map[string]map[string]string, err error) {
	sh, err := c.userShard(ctx, user)
	if err != nil {
		return nil, nil, err
	}
	return c.pruneIndex(ctx, sh, c.userKey(user), names)
}

// pruneIndex drops the stale members of the index at key on sh and returns
// the live ones, with their fields of the given names.
func (c *Cluster) pruneIndex(ctx context.Context, sh *shard.Shard, key string, names []string) ([]string, map[string]map[string]string, error) {
	p := sh.Primary().TxPipeline()
	p.ZRemRangeByScore(ctx, key, "-inf", scripts.Now())
	rng := p.ZRange(ctx, key, 0, -1)
	if _, err := p.Exec(ctx); err != nil {
		return nil, nil, sh.Wrap(err)
	}
	ids := rng.Val()
	fields, err := c.fieldsAll(ctx, ids, names)
	if err != nil {
		return nil, nil, err
	}
	live, stale := scripts.Live(ids, func(id string) bool { _, ok := fields[id]; return ok })
	if len(stale) > 0 {
		if err := sh.Primary().ZRem(ctx, key, stale...).Err(); err != nil {
			return nil, nil, sh.Wrap(err)
		}
	}
	return live, fields, nil
}

// fieldsAll reads the named fields of the records of ids, with one pipeline
// of HMGET per shard. The map has an entry for each record that exists
// (every record has a VersionField), holding the named fields it has; an
// empty one for a key that is not a hash.
func (c *Cluster) fieldsAll(ctx context.Context, ids, names []string) (map[string]map[string]string, error) {
	if c.snap.Load().move.slow {
		return c.fieldsEach(ctx, ids, names) // a session may be on its previous owner
	}
	byShard := map[*shard.Shard][]string{}
	for _, id := range ids {
		sh := c.ShardFor(id)
		byShard[sh] = append(byShard[sh], id)
	}
	read := append([]string{store.VersionField}, names...)
	found := make(map[string]map[string]string, len(ids))
	for sh, ids := range byShard {
		p := sh.Primary().Pipeline()
		cmds := make([]*redis.SliceCmd, len(ids))
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, c.Key(id), read...)
		}
		_, _ = p.Exec(ctx) // each command carries its own error
		for i, cmd := range cmds {
			vals, err := cmd.Result()
			switch {
			case errors.Is(wrongType(err), store.ErrCorrupt):
				found[ids[i]] = map[string]string{}
			case err != nil:
				return nil, sh.Wrap(err)
			case vals[0] != nil:
				f := make(map[string]string, len(names))
				for j, v := range vals[1:] {
					if s, ok := v.(string); ok {
						f[names[j]] = s
					}
				}
				found[ids[i]] = f
			}
		}
	}
	return found, nil
}
