package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// Load returns the fields of the session id. A missing record is
// found == false with a nil error; err is only for failures, and wraps
// shard.ErrUnavailable when the shard could not answer. opt says how fresh
// the answer must be (see LoadOptions).
func (c *Cluster) Load(ctx context.Context, id string, opt store.LoadOptions) (fields map[string]string, found bool, err error) {
	if s := c.snap.Load(); s.move.slow {
		fields, found, err = c.loadMoving(ctx, s, id, opt)
	} else {
		fields, found, err = c.loadOn(ctx, c.ShardFor(id), id, opt)
	}
	return fields, found, wrongType(err)
}

// wrongType marks err as store.ErrCorrupt when Redis answered WRONGTYPE.
func wrongType(err error) error {
	var re redis.Error
	if errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE") && !errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w: %w", store.ErrCorrupt, err)
	}
	return err
}

// Save applies w to the session id atomically and returns the record's
// version after it. With Options.Durability.SaveReplicas set, a save that
// fewer replicas confirmed returns its version and an error wrapping
// ErrNotReplicated: it is on the primary, not yet safe from a failover.
func (c *Cluster) Save(ctx context.Context, id string, w store.Write) (version int64, err error) {
	args, err := scripts.SaveArgs(c.bounded(w))
	if err != nil {
		return 0, err
	}
	if s := c.snap.Load(); s.move.slow {
		return c.saveMoving(ctx, s, id, w.Mode, args)
	}
	return c.saveOn(ctx, c.ShardFor(id), id, args)
}

// bounded returns w with a NotAfter of Durability.LateWrite from now,
// unless it has one or the limit is off.
func (c *Cluster) bounded(w store.Write) store.Write {
	if w.NotAfter.IsZero() && c.durability.LateWrite > 0 {
		w.NotAfter = time.Now().Add(c.durability.LateWrite)
	}
	return w
}

// saveOn runs the save script with args on the shard sh.
func (c *Cluster) saveOn(ctx context.Context, sh *shard.Shard, id string, args []any) (version int64, err error) {
	return c.saveBy(ctx, sh, scripts.Save, []string{c.Key(id)}, args)
}

// saveBy is saveOn with script, Save or a variant of it (SaveMoving), run
// on keys. SaveMoving's "being moved" answer is errKeyMoving.
func (c *Cluster) saveBy(ctx context.Context, sh *shard.Shard, script *redis.Script, keys []string, args []any) (version int64, err error) {
	acked, err := c.waitFor(ctx, sh, c.durability.SaveReplicas, func(p redis.Cmdable) (err error) {
		version, err = script.Run(ctx, p, keys, args...).Int64()
		return err
	})
	if err != nil {
		return 0, sh.Fail(err)
	}
	if version == scripts.SaveMarked {
		return 0, fmt.Errorf("shard %s: %w", sh.Name(), errKeyMoving)
	}
	if version, err = savedVersion(sh, version); err != nil {
		return 0, err
	}
	if acked < int64(c.durability.SaveReplicas) {
		return version, fmt.Errorf("shard %s: %w: %d of %d replicas confirmed within %v", sh.Name(), store.ErrNotReplicated, acked, c.durability.SaveReplicas, c.durability.Timeout)
	}
	return version, nil
}

// savedVersion turns the save script's answer on sh into the record's
// version, or the error its negative codes stand for (scripts.SaveReply).
func savedVersion(sh *shard.Shard, version int64) (int64, error) {
	v, err := scripts.SaveReply(version)
	if err != nil {
		return 0, fmt.Errorf("shard %s: %w", sh.Name(), err)
	}
	return v, nil
}

// Delete removes the session id. Deleting a missing record is not an error.
// It waits for Options.Durability.DeleteReplicas replicas to confirm the
// delete, and journals it on another shard when they do not, so that a
// failover does not bring the session back (see revoke.go).
func (c *Cluster) Delete(ctx context.Context, id string) error {
	if s := c.snap.Load(); s.move.slow {
		return c.deleteMoving(ctx, s, id)
	}
	return c.deleteOn(ctx, c.ShardFor(id), id)
}

// Exists reports whether the session id is stored.
func (c *Cluster) Exists(ctx context.Context, id string) (bool, error) {
	if s := c.snap.Load(); s.move.slow {
		return c.existsMoving(ctx, s, id)
	}
	return c.existsOn(ctx, c.ShardFor(id), id)
}

// existsOn is Exists on the shard sh.
func (c *Cluster) existsOn(ctx context.Context, sh *shard.Shard, id string) (bool, error) {
	var n int64
	err := sh.Read(ctx, func(ctx context.Context, r redis.Cmdable) (err error) {
		n, err = r.Exists(ctx, c.Key(id)).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	return n == 1 && !c.revoked(ctx, sh, id), nil
}

// deleteOn is Delete on the shard sh.
func (c *Cluster) deleteOn(ctx context.Context, sh *shard.Shard, id string) error {
	return c.delete(ctx, sh, id)
}
