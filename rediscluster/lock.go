package rediscluster

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

// TryLock takes session id's lock for owner, a random value unique to the
// holder, with SET NX PX. It reports false if someone else holds it. The
// lock frees itself after ttl, so a crashed holder cannot block the
// session for longer. A session that does not exist gets no lock:
// TryLock fails with store.ErrNotFound and writes nothing, so a made-up
// token cannot make Redis store anything. The lock and the session live in
// different slots, so the check and the lock are two commands: a session
// deleted between them leaves a lock that expires with its ttl.
func (c *Cluster) TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error) {
	if ok, err := c.Exists(ctx, id); err != nil || !ok {
		return false, cmp.Or(err, fmt.Errorf("session %s: %w", id, store.ErrNotFound))
	}
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
