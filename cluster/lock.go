package cluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// TryLock takes session id's lock for owner, a random value unique to the
// holder, with SET NX PX on the session's shard. It reports false if
// someone else holds it. The lock frees itself after ttl, so a crashed
// holder cannot block the session for longer.
func (c *Cluster) TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	sh, err := c.placeFor(ctx, id, c.lockKey(id))
	if err != nil {
		return false, err
	}
	ok, err := sh.Primary().SetNX(ctx, c.lockKey(id), owner, ttl).Result()
	if err != nil {
		return false, sh.Wrap(err)
	}
	return ok, nil
}

// unlockScript deletes a lock only if its holder is still ARGV[1], so a
// holder whose lock expired cannot free the next holder's.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
`)

// Unlock frees session id's lock if owner still holds it.
func (c *Cluster) Unlock(ctx context.Context, id, owner string) error {
	sh, err := c.placeFor(ctx, id, c.lockKey(id))
	if err != nil {
		return err
	}
	return sh.Wrap(unlockScript.Run(ctx, sh.Primary(), []string{c.lockKey(id)}, owner).Err())
}
