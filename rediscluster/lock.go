package rediscluster

import (
	"context"
	"time"

	"github.com/shardsession/shardsession/internal/scripts"
)

// TryLock takes session id's lock for owner, a random value unique to the
// holder, with SET NX PX. It reports false if someone else holds it. The
// lock frees itself after ttl, so a crashed holder cannot block the
// session for longer.
func (c *Cluster) TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	key := c.lockKey(id)
	var ok bool
	err := c.retry(ctx, func(ctx context.Context) (err error) {
		ok, err = c.client.SetNX(ctx, key, owner, ttl).Result()
		return err
	})
	if err != nil {
		return false, wrap("", key, err)
	}
	return ok, nil
}

// Unlock frees session id's lock if owner still holds it (the unlock
// script shared with package cluster).
func (c *Cluster) Unlock(ctx context.Context, id, owner string) error {
	key := c.lockKey(id)
	return wrap("", key, c.retry(ctx, func(ctx context.Context) error {
		return scripts.Unlock.Run(ctx, c.client, []string{key}, owner).Err()
	}))
}
