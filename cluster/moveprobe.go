package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/shardsession/shardsession/shard"
)

// probeMoves checks, before a topology change starts, that every shard of
// prev that would hand partitions to another shard of next can MIGRATE a
// key there (probeMove). A change that starts and then cannot move keys
// leaves the fleet between two rings, with reads and writes of the
// sessions to move failing, until someone intervenes: better to refuse it
// up front.
func (c *Cluster) probeMoves(ctx context.Context, prev, next *snapshot) error {
	type pair struct{ from, to *shard.Shard }
	seen := map[pair]bool{}
	for p := range next.owners {
		from := prev.shards[prev.owners[p%len(prev.owners)]]
		to := next.shards[next.owners[p]]
		if from.Name() == to.Name() || seen[pair{from, to}] {
			continue
		}
		seen[pair{from, to}] = true
		if err := c.probeMove(ctx, from, to); err != nil {
			return err
		}
	}
	return nil
}

// probeTTL bounds how long a probe key can outlive a failed probe.
const probeTTL = 10 * time.Second

// probeMove writes a short-lived probe key on from's primary, MIGRATEs it to
// to's primary (with the credentials a move would use) and deletes it there.
func (c *Cluster) probeMove(ctx context.Context, from, to *shard.Shard) error {
	var b [8]byte
	rand.Read(b[:])
	key := c.prefix + reservedMark + "probe:" + hex.EncodeToString(b[:])
	if err := from.Primary().Set(ctx, key, "1", probeTTL).Err(); err != nil {
		return fmt.Errorf("%w: shard %s: writing a probe key: %w", ErrCannotMove, from.Name(), from.Wrap(err))
	}
	defer to.Primary().Del(context.WithoutCancel(ctx), key)
	defer from.Primary().Del(context.WithoutCancel(ctx), key)
	if _, err := c.migrateKeys(ctx, from, to, []string{key}); err != nil {
		return fmt.Errorf("%w: MIGRATE from shard %s to shard %s: %w (resharding moves keys with MIGRATE between the primaries, which managed Redis services refuse)", ErrCannotMove, from.Name(), to.Name(), err)
	}
	return nil
}
