package rediscluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
)

// The per-user index, as in package cluster: for each user, a sorted set
// (in the slot of its own key) whose members are the user's session IDs,
// scored by each session's absolute expiry (unix ms); the sessions live in
// their own slots. IndexUser drops members whose absolute expiry has
// passed and makes the key expire with its last member; UserSessions also
// drops members whose session is gone (idle expiry, logout elsewhere).

// IndexUser records session id, which expires at expireAt at the latest, in
// user's index.
func (c *Cluster) IndexUser(ctx context.Context, user, id string, expireAt time.Time) error {
	_, err := c.IndexUserCapped(ctx, user, id, expireAt, 0)
	return err
}

// IndexUserCapped is IndexUser for an index of at most limit sessions
// (limit ≤ 0: no bound): when id makes one too many, the sessions with the
// earliest expiries (the oldest logins) leave the index, and are returned
// for the caller to end with Delete (store.CappedUserIndex).
func (c *Cluster) IndexUserCapped(ctx context.Context, user, id string, expireAt time.Time, limit int) (evicted []string, err error) {
	key := c.userKey(user)
	args := scripts.IndexArgs(id, expireAt, limit)
	err = c.retry(ctx, func(ctx context.Context) (err error) {
		evicted, err = scripts.Index.Run(ctx, c.client, []string{key}, args...).StringSlice()
		return err
	})
	return evicted, wrap("", key, err)
}

// UnindexUser removes session ids from user's index.
func (c *Cluster) UnindexUser(ctx context.Context, user string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	key := c.userKey(user)
	return wrap("", key, c.retry(ctx, func(ctx context.Context) error {
		return c.client.ZRem(ctx, key, scripts.Members(ids)...).Err()
	}))
}

// UserSessions returns the IDs of user's live sessions, whatever their
// slots. It is exact: it checks that each indexed session still exists,
// and removes from the index those that do not. It fails, rather than
// return a partial list, if a master holding one of them cannot answer.
func (c *Cluster) UserSessions(ctx context.Context, user string) ([]string, error) {
	key := c.userKey(user)
	var ids []string
	err := c.retry(ctx, func(ctx context.Context) error {
		p := c.client.TxPipeline()
		p.ZRemRangeByScore(ctx, key, "-inf", scripts.Now())
		rng := p.ZRange(ctx, key, 0, -1)
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
		ids = rng.Val()
		return nil
	})
	if err != nil {
		return nil, wrap("", key, err)
	}
	exists, err := c.existAll(ctx, ids)
	if err != nil {
		return nil, err
	}
	live, stale := scripts.Live(ids, func(id string) bool { return exists[id] })
	if len(stale) > 0 {
		err := c.retry(ctx, func(ctx context.Context) error { return c.client.ZRem(ctx, key, stale...).Err() })
		if err != nil {
			return nil, wrap("", key, err)
		}
	}
	return live, nil
}

// existAll reports which of ids are stored, with one pipeline that the
// client splits by master.
func (c *Cluster) existAll(ctx context.Context, ids []string) (map[string]bool, error) {
	exists := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return exists, nil
	}
	err := c.retry(ctx, func(ctx context.Context) error {
		p := c.client.Pipeline()
		cmds := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, c.Key(id))
		}
		if _, err := p.Exec(ctx); err != nil {
			return err
		}
		for i, cmd := range cmds {
			exists[ids[i]] = cmd.Val() == 1
		}
		return nil
	})
	if err != nil {
		return nil, wrap("", c.Key(ids[0]), err)
	}
	return exists, nil
}
