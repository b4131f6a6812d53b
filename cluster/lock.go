package cluster

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

// TryLock takes session id's lock for owner, a random value unique to the
// holder, with SET NX PX on the session's shard. It reports false if
// someone else holds it, and fails with store.ErrNotFound, writing nothing, if
// there is no session id: a client cannot make Redis store locks for
// sessions that do not exist. The lock frees itself after ttl, so a crashed
// holder cannot block the session for longer.
func (c *Cluster) TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	sh, err := c.placeFor(ctx, id, c.lockKey(id))
	if err != nil {
		return false, err
	}
	r, err := lockScript.Run(ctx, sh.Primary(), []string{c.lockKey(id), c.Key(id)}, owner, ttl.Milliseconds()).Int()
	if err != nil {
		return false, sh.Wrap(err)
	}
	if r < 0 && c.snap.Load().move.slow {
		// During a topology change the session may still be on the other
		// shard of its pair: ask the Cluster, which knows where to look.
		if ok, err := c.Exists(ctx, id); err != nil || !ok {
			return false, cmp.Or(err, fmt.Errorf("shard %s: %w", sh.Name(), store.ErrNotFound))
		}
		return sh.Primary().SetNX(ctx, c.lockKey(id), owner, ttl).Result()
	}
	if r < 0 {
		return false, fmt.Errorf("shard %s: %w", sh.Name(), store.ErrNotFound)
	}
	return r == 1, nil
}

// lockScript takes the lock KEYS[1] for ARGV[1] for ARGV[2] ms if the
// session KEYS[2] exists: 1 taken, 0 held by another, -1 no session.
var lockScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 0 then return -1 end
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then return 1 end
return 0
`)

// Unlock frees session id's lock if owner still holds it.
func (c *Cluster) Unlock(ctx context.Context, id, owner string) error {
	sh, err := c.placeFor(ctx, id, c.lockKey(id))
	if err != nil {
		return err
	}
	return sh.Wrap(scripts.Unlock.Run(ctx, sh.Primary(), []string{c.lockKey(id)}, owner).Err())
}
