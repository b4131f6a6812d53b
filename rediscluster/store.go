package rediscluster

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

// Save applies w to the session id atomically, with the save script shared
// with package cluster, and returns the record's version after it. With
// Durability.SaveReplicas set, a save that fewer replicas confirmed returns
// its version and an error wrapping store.ErrNotReplicated.
func (c *Cluster) Save(ctx context.Context, id string, w store.Write) (version int64, err error) {
	args, err := scripts.SaveArgs(w)
	if err != nil {
		return 0, err
	}
	key := c.Key(id)
	node, acked, err := c.write(ctx, key, c.durability.SaveReplicas, func(ctx context.Context, r redis.Cmdable) (err error) {
		version, err = scripts.Save.Run(ctx, r, []string{key}, args...).Int64()
		return err
	})
	if err != nil {
		return 0, wrap(node, key, err)
	}
	if version, err = scripts.SaveReply(version); err != nil {
		return 0, fmt.Errorf("%s: %w", where(node, key), err)
	}
	if want := c.durability.SaveReplicas; acked < int64(want) {
		return version, fmt.Errorf("node %s: %w: %d of %d replicas confirmed within %v", node, store.ErrNotReplicated, acked, want, c.durability.Timeout)
	}
	return version, nil
}

// Delete removes the session id. Deleting a missing record is not an
// error. It waits for Durability.DeleteReplicas replicas to confirm; when
// fewer did, it records the delete in the revocation journal (revoke.go)
// and returns nil, or returns an error wrapping store.ErrNotReplicated if
// that failed or Durability.RevocationTTL is negative.
func (c *Cluster) Delete(ctx context.Context, id string) error {
	key := c.Key(id)
	node, acked, err := c.write(ctx, key, c.durability.DeleteReplicas, func(ctx context.Context, r redis.Cmdable) error {
		return r.Del(ctx, key).Err()
	})
	if err != nil {
		return wrap(node, key, err)
	}
	if want := c.durability.DeleteReplicas; acked < int64(want) {
		c.revocation.unconfirmed.Add(1)
		if c.durability.RevocationTTL > 0 {
			return c.journal(ctx, id, node, acked, want) // revoke.go
		}
		return fmt.Errorf("node %s: %w: %d of %d replicas confirmed the delete within %v", node, store.ErrNotReplicated, acked, want, c.durability.Timeout)
	}
	return nil
}

// Exists reports whether the session id is stored.
func (c *Cluster) Exists(ctx context.Context, id string) (bool, error) {
	key := c.Key(id)
	var n int64
	err := c.retryKey(ctx, key, func(ctx context.Context) (err error) {
		n, err = c.client.Exists(ctx, key).Result()
		return err
	})
	if err != nil {
		return false, wrap("", key, err)
	}
	return n == 1, nil
}
