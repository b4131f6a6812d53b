package cluster

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// loadOn reads the session id from the node sh's read policy picks. A
// replica's answer is used only if it is at least opt.MinVersion (and, at
// that version, the write opt.MinWrite: store.AtLeast);
// otherwise, or when the replica fails, the primary is asked (and, if the
// primary is down, the replicas in degraded mode, still held to
// MinVersion). Only the primary's failure is an error: a replica is an
// optimisation, never a reason to fail a read.
func (c *Cluster) loadOn(ctx context.Context, sh *shard.Shard, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	key := c.Key(id)
	retried := false
	if opt.MinVersion < 0 {
		opt.Primary, opt.MinVersion = true, 0
	}
	if !opt.Primary {
		if sh.Reads().Policy(ctx) != replica.PrimaryOnly {
			sh.ConfirmPrimary() // after a stall of the primary, learn of a switch before picking a replica
		}
		if rc, isReplica := sh.Reads().Pick(ctx); isReplica {
			fields, err := rc.HGetAll(ctx, key).Result()
			switch {
			case err != nil && (ctx.Err() != nil || wrongType(err) != err):
				return nil, false, sh.Wrap(err) // a WRONGTYPE key is no fault of the replica's
			case err != nil:
				sh.Reads().MarkDown(rc, err)
				c.reads.ReplicaErrors.Add(1)
			case !store.AtLeast(fields, opt.MinVersion, opt.MinWrite):
				// Older than the caller's own last write, not there at all
				// although the caller saw it (the replica is behind), or the
				// same version on another branch of history.
				c.reads.StaleRetries.Add(1)
			default:
				c.reads.ReplicaReads.Add(1)
				return c.loaded(ctx, sh, id, fields, opt, store.ReadInfo{Shard: sh.Name(), Node: sh.Addr(rc), Replica: true})
			}
			retried = true
		}
	}
	var fields map[string]string
	var node string
	degraded := false
	// Through the batch, as saves are: concurrent loads of a shard share a
	// round trip and its syscalls, a lone one goes out at once.
	primary, done := c.batch.primary(sh)
	err := sh.ReadVia(ctx, primary, func(ctx context.Context, r redis.Cmdable) (err error) {
		if fields, err = r.HGetAll(ctx, key).Result(); err != nil {
			return err
		}
		// The pipeliner has no address of its own: it sends to the
		// primary client's node (as the client does).
		degraded, node = r != primary, sh.Addr(sh.Primary())
		if degraded {
			node = sh.Addr(r)
		}
		if degraded && !store.AtLeast(fields, opt.MinVersion, opt.MinWrite) {
			// Degraded mode (the primary is down) and this replica is
			// older than the caller's last write: try the next replica,
			// and fail rather than answer with older data.
			return fmt.Errorf("%w: replica %s is behind the caller's version %d", shard.ErrUnavailable, node, opt.MinVersion)
		}
		return nil
	})
	done()
	if err != nil {
		return nil, false, err
	}
	c.reads.PrimaryReads.Add(1)
	if len(fields) > 0 && !store.AtLeast(fields, opt.MinVersion, opt.MinWrite) {
		// The primary itself is older than a write it acknowledged, or holds
		// another record at that version: a write was lost (a failover
		// promoted a replica that had not received it), or the caller saw
		// one on a branch that lost (a deposed primary's).
		c.reads.VersionRegressions.Add(1)
	}
	return c.loaded(ctx, sh, id, fields, opt, store.ReadInfo{Shard: sh.Name(), Node: node, Replica: degraded, Retried: retried})
}

// loaded finishes a Load: a session deleted before a failover that the
// revocation journal remembers is not found; opt.Info is filled in.
func (c *Cluster) loaded(ctx context.Context, sh *shard.Shard, id string, fields map[string]string, opt store.LoadOptions, info store.ReadInfo) (map[string]string, bool, error) {
	if len(fields) > 0 && c.revoked(ctx, sh, id) {
		fields = nil
	}
	if opt.Info != nil {
		*opt.Info = info
	}
	return fields, len(fields) > 0, nil
}

// ReadStats are counters of a Cluster's Loads since New (replica.ReadStats).
type ReadStats = replica.ReadStats

// ReadStats returns the cluster's read counters.
func (c *Cluster) ReadStats() ReadStats { return c.reads.Stats() }
