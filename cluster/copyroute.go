package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// The requests' side of the copy mover (copymove.go): how a node reads,
// writes and deletes a session on its previous owner while a change runs
// with MoverCopy. Only the slow path (moving.go) calls these.

// helping runs op, a write of key on from that answers errKeyMoving while
// the key is marked, helping the move of key to to finish before each new
// try: after the move, op finds nothing on from.
func (c *Cluster) helping(ctx context.Context, from, to *shard.Shard, key string, op func() error) error {
	for range moveHelps {
		err := op()
		if !errors.Is(err, errKeyMoving) {
			return err
		}
		n, err := c.copyKeys(ctx, from, to, []string{key})
		c.stats.migratedKeys.Add(int64(n))
		if err != nil {
			return err
		}
	}
	return fmt.Errorf("shard %s: %w: %s stays marked", from.Name(), ErrMoveStalled, key)
}

// saveOnSource is saveOn on from, which must not change a session being
// moved (SaveMoving).
func (c *Cluster) saveOnSource(ctx context.Context, from, to *shard.Shard, id string, args []any) (v int64, err error) {
	key := c.Key(id)
	err = c.helping(ctx, from, to, key, func() (err error) {
		v, err = c.saveBy(ctx, from, scripts.SaveMoving, []string{key, c.markKey(key)}, args)
		return err
	})
	return v, err
}

// deleteCopying is Delete during a change with MoverCopy: from's copy goes
// first, unless it is being moved (then the move is helped to finish, and
// the delete tried again), then to's, leaving a tombstone there.
func (c *Cluster) deleteCopying(ctx context.Context, from, to *shard.Shard, id string) error {
	key := c.Key(id)
	if from != nil {
		err := c.helping(ctx, from, to, key, func() error {
			return c.deleteBy(ctx, from, id, func(p redis.Cmdable) error {
				n, err := deleteUnmarkedScript.Run(ctx, p, []string{key, c.markKey(key)}).Int()
				if err == nil && n < 0 {
					err = errKeyMoving
				}
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	return c.deleteBy(ctx, to, id, func(p redis.Cmdable) error {
		return deleteTombScript.Run(ctx, p, []string{key, c.tombKey(key)}, tombTTL.Milliseconds()).Err()
	})
}

// loadCopying is a PhaseDualRead Load with MoverCopy: from's record and its
// mark are read atomically; a record found with a mark may have a newer
// copy on to already (a PhaseMigrate node's write), so to is read too and
// the higher version wins (to's on a tie).
func (c *Cluster) loadCopying(ctx context.Context, from, to *shard.Shard, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	key := c.Key(id)
	var fields *redis.MapStringStringCmd
	var marked *redis.IntCmd
	_, err := from.Primary().TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HGetAll(ctx, key)
		marked = p.Exists(ctx, c.markKey(key))
		return nil
	})
	if err != nil {
		return nil, false, from.Fail(err)
	}
	ours := fields.Val()
	if len(ours) == 0 {
		return c.loadOn(ctx, to, id, opt)
	}
	if marked.Val() > 0 {
		theirs, found, err := c.loadOn(ctx, to, id, opt)
		if err != nil || found && versionOf(theirs[store.VersionField]) >= versionOf(ours[store.VersionField]) {
			return theirs, found, err
		}
	}
	return c.loaded(ctx, from, id, ours, opt, store.ReadInfo{Shard: from.Name(), Node: from.Addr(from.Primary())})
}
