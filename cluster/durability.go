package cluster

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/shardsession/shardsession/shard"
)

// The write-durability path: every Save and Delete goes through waitFor,
// which sends WAIT after the write on the same connection when
// Options.Durability asks for replicas. A Save that fewer replicas confirm
// returns store.ErrNotReplicated (store.go); a Delete that fewer confirm is
// journalled on a witness shard (revoke.go says why DEL alone is not enough).

// waitFor runs op on one connection to sh's primary and then, if n > 0 and
// sh has replicas, WAIT n on the same connection. It returns how many
// replicas confirmed (n when there was nothing to wait for).
func (c *Cluster) waitFor(ctx context.Context, sh *shard.Shard, n int, op func(redis.Cmdable) error) (int64, error) {
	if n <= 0 || !sh.HasReplicas() {
		p, done := c.batch.primary(sh)
		defer done()
		return int64(max(n, 0)), op(p)
	}
	conn := sh.Primary().Conn()
	defer conn.Close()
	if err := op(conn); err != nil {
		return 0, err
	}
	acked, err := conn.Wait(ctx, n, c.durability.Timeout).Result()
	if err != nil && !shard.IsUnavailable(err) {
		// An error reply (NOPERM from an ACL, WAIT renamed or unknown) is
		// configuration, not the primary going away: say so.
		return 0, fmt.Errorf("WAIT %d after the write was refused (Durability needs it): %w", n, err)
	}
	if err != nil {
		// The write itself is on the primary; WAIT failing means the
		// primary went away meanwhile, which is the case WAIT is for.
		return 0, nil
	}
	if acked < int64(n) && n == c.durability.SaveReplicas {
		c.stats.unconfirmedSaves.Add(1)
	}
	return acked, nil
}

// delete is Delete: DEL, WAIT, and the journal (revoke.go) when WAIT fell
// short.
func (c *Cluster) delete(ctx context.Context, sh *shard.Shard, id string) error {
	return c.deleteBy(ctx, sh, id, func(p redis.Cmdable) error {
		return p.Del(ctx, c.Key(id)).Err()
	})
}

// deleteBy is delete with del as the command that deletes (the copy mover's
// scripts while a change runs, copyroute.go).
func (c *Cluster) deleteBy(ctx context.Context, sh *shard.Shard, id string, del func(redis.Cmdable) error) error {
	want := c.durability.DeleteReplicas
	acked, err := c.waitFor(ctx, sh, want, del)
	if err != nil {
		return sh.Fail(err)
	}
	if acked >= int64(want) {
		return nil
	}
	c.stats.unconfirmedDeletes.Add(1)
	return c.journal(ctx, sh, id, acked, want)
}
