package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/shard"
)

// Why deletes need more than DEL: Redis replicates asynchronously, so a DEL
// acknowledged by a primary that dies before passing it on is undone when
// a replica is promoted (by Sentinel, or by a managed service behind its
// endpoint), and a logged-out session comes back. Two
// things close that gap:
//
//  1. Delete sends WAIT on the connection that ran the DEL and returns only
//     once Durability.DeleteReplicas replicas have it. Sentinel promotes the
//     replica with the most replicated data, so with one replica confirmed
//     the promoted one has the DEL.
//  2. When fewer replicas confirm (a replica is down or lagging), the
//     session's ID goes into a revocation journal: a sorted set, scored by
//     time, on another shard (a witness: the next one in configuration
//     order that answers), which fails independently. When this process
//     sees the shard's primary switched (Sentinel's +switch-master, or a
//     new primary behind a static address: shard.OnFailover), it deletes
//     every ID journalled in the last RevocationTTL, on any witness, on
//     the new primary; and until RevocationTTL after a switch, a load of a
//     session of that shard also checks the journals.
//
// With one shard there is no witness: an unconfirmed Delete then fails with
// shard.ErrUnavailable, so the caller knows the logout may not hold.

// journal records on a witness shard that the session id was deleted from
// sh with only acked of want replicas confirming, so that a failover of sh
// does not bring it back.
func (c *Cluster) journal(ctx context.Context, sh *shard.Shard, id string, acked int64, want int) error {
	ws := c.witnesses(sh)
	if len(ws) == 0 {
		return fmt.Errorf("shard %s: %w: delete confirmed by %d of %d replicas and no other shard to journal it", sh.Name(), shard.ErrUnavailable, acked, want)
	}
	now := time.Now()
	key := c.journalKey(sh)
	var errs []error
	for _, w := range ws {
		_, err := w.Primary().TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: id})
			p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-c.durability.RevocationTTL).UnixMilli(), 10))
			p.PExpire(ctx, key, c.durability.RevocationTTL)
			return nil
		})
		if err == nil {
			c.stats.journalled.Add(1)
			return nil
		}
		errs = append(errs, w.Wrap(err))
	}
	return fmt.Errorf("shard %s: delete confirmed by %d of %d replicas, journal failed on every other shard: %w", sh.Name(), acked, want, errors.Join(errs...))
}

// witnesses returns the shards that may hold sh's revocation journal, in
// the order a Delete tries them: every other shard, starting with the next
// one in configuration order, so that one more shard down does not stop a
// logout.
func (c *Cluster) witnesses(sh *shard.Shard) []*shard.Shard {
	shards := c.Shards()
	for i, s := range shards {
		if s == sh {
			ws := make([]*shard.Shard, 0, len(shards)-1)
			for j := 1; j < len(shards); j++ {
				ws = append(ws, shards[(i+j)%len(shards)])
			}
			return ws
		}
	}
	return nil
}

// revoked reports whether the session id, just found on sh, was deleted
// by a Delete that the journal remembers; it then deletes it again. It only
// looks when sh's primary switched within RevocationTTL, so it costs
// nothing in normal operation. A journal that cannot be read is not a
// reason to refuse the session: the replay on switch covers it.
func (c *Cluster) revoked(ctx context.Context, sh *shard.Shard, id string) bool {
	last := sh.LastSwitch()
	if last.IsZero() || time.Since(last) > c.durability.RevocationTTL {
		return false
	}
	for _, w := range c.witnesses(sh) {
		score, err := w.Primary().ZScore(ctx, c.journalKey(sh), id).Result()
		if err != nil || time.Since(time.UnixMilli(int64(score))) > c.durability.RevocationTTL {
			continue
		}
		c.stats.revokedOnLoad.Add(1)
		_ = sh.Primary().Del(ctx, c.Key(id)).Err()
		return true
	}
	return false
}

// followFailovers replays the journal of a shard on its new primary after
// every switch this process sees.
func (c *Cluster) followFailovers(shards []*shard.Shard) {
	for _, sh := range shards {
		sh.OnFailover(func(ev failover.Event) {
			if ev.Kind == failover.SwitchMaster {
				go c.replay(sh)
			}
		})
	}
}

// replayTimeout bounds how long replay keeps retrying.
const replayTimeout = 30 * time.Second

// replay deletes on sh's (new) primary every ID its journal holds from the
// last RevocationTTL, on every witness, retrying each until it succeeds or
// replayTimeout passes.
func (c *Cluster) replay(sh *shard.Shard) {
	pending := c.witnesses(sh)
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	deleted := 0
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		var failed []*shard.Shard
		var last error
		for _, w := range pending {
			n, err := c.replayOnce(ctx, sh, w)
			if err != nil {
				failed, last = append(failed, w), err
				continue
			}
			deleted += n
			c.stats.replayed.Add(int64(n))
		}
		if pending = failed; len(pending) == 0 {
			slog.Info("failover: revocation journal replayed", "shard", sh.Name(), "deleted", deleted)
			return
		}
		select {
		case <-ctx.Done():
			slog.Warn("failover: revocation journal not replayed", "shard", sh.Name(), "witnesses", len(pending), "err", last)
			return
		case <-time.After(backoff):
		}
	}
}

// replayOnce applies the journal of sh held by w.
func (c *Cluster) replayOnce(ctx context.Context, sh, w *shard.Shard) (int, error) {
	since := strconv.FormatInt(time.Now().Add(-c.durability.RevocationTTL).UnixMilli(), 10)
	ids, err := w.Primary().ZRangeByScore(ctx, c.journalKey(sh), &redis.ZRangeBy{Min: since, Max: "+inf"}).Result()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = c.Key(id)
	}
	return len(ids), sh.Primary().Del(ctx, keys...).Err()
}
