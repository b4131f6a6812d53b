package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/shardsession/shardsession/shard"
)

// probeMoves picks, before a topology change starts, how its keys will
// move: MIGRATE if every shard of prev that would hand partitions to
// another shard of next can MIGRATE a key there (probeMigrate), else the
// copy mover if every such pair can move a key with it (probeCopy), else
// it fails with ErrCannotMove. A change that starts and then cannot move
// keys leaves the fleet between two rings, with reads and writes of the
// sessions to move failing, until someone intervenes: better to refuse it
// up front. One mover serves the whole change, on every node (it is in the
// topology record): a single pair that refuses MIGRATE makes it the copy
// mover for all.
func (c *Cluster) probeMoves(ctx context.Context, prev, next *snapshot) (Mover, error) {
	type pair struct{ from, to *shard.Shard }
	var pairs []pair
	seen := map[pair]bool{}
	for p := range next.owners {
		from := prev.shards[prev.owners[p%len(prev.owners)]]
		to := next.shards[next.owners[p]]
		if from.Name() == to.Name() || seen[pair{from, to}] {
			continue
		}
		seen[pair{from, to}] = true
		pairs = append(pairs, pair{from, to})
	}
	var refused error
	for _, p := range pairs {
		if err := c.probeMove(ctx, p.from, p.to, c.probeMigrate); err != nil {
			refused = fmt.Errorf("MIGRATE from shard %s to shard %s: %w", p.from.Name(), p.to.Name(), err)
			break
		}
	}
	if refused == nil {
		return MoverMigrate, nil
	}
	for _, p := range pairs {
		if err := c.probeMove(ctx, p.from, p.to, c.probeCopy); err != nil {
			return 0, fmt.Errorf("%w: %w; and the copy mover, which needs EVAL on both, from shard %s to shard %s: %w", ErrCannotMove, refused, p.from.Name(), p.to.Name(), err)
		}
	}
	return MoverCopy, nil
}

// probeTTL bounds how long a probe key can outlive a failed probe.
const probeTTL = 10 * time.Second

// probeMove writes a short-lived probe key on from's primary, moves it to
// to's primary with move (with the credentials a move would use) and
// deletes it, and its mark, everywhere.
func (c *Cluster) probeMove(ctx context.Context, from, to *shard.Shard, move func(ctx context.Context, from, to *shard.Shard, key string) error) error {
	var b [8]byte
	rand.Read(b[:])
	key := c.prefix + reservedMark + "probe:" + hex.EncodeToString(b[:])
	if err := from.Primary().Set(ctx, key, "1", probeTTL).Err(); err != nil {
		return fmt.Errorf("writing a probe key on shard %s: %w", from.Name(), from.Wrap(err))
	}
	defer to.Primary().Del(context.WithoutCancel(ctx), key)
	defer from.Primary().Del(context.WithoutCancel(ctx), key, c.markKey(key))
	return move(ctx, from, to, key)
}

// probeMigrate moves key with MIGRATE.
func (c *Cluster) probeMigrate(ctx context.Context, from, to *shard.Shard, key string) error {
	_, err := c.migrateKeys(ctx, from, to, []string{key})
	return err
}

// probeCopy moves key with the copy mover and checks that it arrived.
func (c *Cluster) probeCopy(ctx context.Context, from, to *shard.Shard, key string) error {
	moved, err := c.copyMove(ctx, from, to, key)
	if err != nil {
		return err
	}
	if n, err := to.Primary().Exists(ctx, key).Result(); err != nil || n != 1 || !moved {
		return fmt.Errorf("the probe key did not arrive on shard %s (%d, %v)", to.Name(), n, to.Wrap(err))
	}
	return nil
}
