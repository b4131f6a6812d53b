package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/store"
)

// Why deletes need more than DEL, as in package cluster (cluster/revoke.go):
// Redis replicates asynchronously, so a DEL acknowledged by a master that
// dies before passing it on is undone when the cluster promotes a replica
// that missed it, and a logged-out session comes back. Two things close
// that gap:
//
//  1. Delete sends WAIT on the connection that ran the DEL (durability.go).
//     Redis Cluster promotes the replica with the largest replication
//     offset, so with one replica confirmed the promoted one has the DEL.
//  2. When fewer than Durability.DeleteReplicas replicas confirm, the
//     session's ID goes into a revocation journal: a sorted set scored by
//     time, on a slot owned by another master (a witness, which fails
//     independently). The journal keys carry hash tags for that: without
//     one, a key's slot is where its name hashes, which may be the
//     session's own master. journalTags picks one tag in each sixteenth
//     of the slot space, so that whatever the slot layout some tag lands
//     on another master (unless one master owns nearly every slot).
//
// A Cluster learns of failovers from its own traffic, with no polling:
// every request names the master it is sent to (retryKey), and the store
// keeps the roles of the nodes as of the last CLUSTER NODES it read
// (topology.go). A request sent to a node that was a replica is a
// failover seen: this process deletes every ID journalled in the last
// RevocationTTL whose slot the new master now serves (replay), and until
// RevocationTTL later a Load that finds a session on that master also
// checks the journal (revoked). A process that started after the failover
// does neither; the replay of the processes that saw it covers it.

// journalTags are the hash tags of the journal keys: journalTags[i] hashes
// to a slot in the i-th sixteenth of the 16384 slots.
var journalTags = func() [16]string {
	var tags [16]string
	for i, filled := 0, 0; filled < len(tags); i++ {
		tag := "rj" + strconv.Itoa(i)
		if b := keySlot(tag) * len(tags) / slotCount; tags[b] == "" {
			tags[b] = tag
			filled++
		}
	}
	return tags
}()

// journal records on a witness that the session id was deleted from the
// master node with only acked of want replicas confirming.
func (c *Cluster) journal(ctx context.Context, id, node string, acked int64, want int) error {
	ttl := c.durability.RevocationTTL
	now := time.Now()
	tried := map[string]bool{node: true}
	var errs []error
	// Start from the tag after the session's own sixteenth, so that the
	// journal's writes spread over the witnesses.
	first := keySlot(c.Key(id)) * len(journalTags) / slotCount
	for i := range journalTags {
		key := c.journalKey((first + 1 + i) % len(journalTags))
		w := c.masterOf(ctx, key)
		if w == "" || tried[w] {
			continue
		}
		tried[w] = true
		_, err := c.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, key, redis.Z{Score: float64(now.UnixMilli()), Member: id})
			p.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.Add(-ttl).UnixMilli(), 10))
			p.PExpire(ctx, key, ttl)
			return nil
		})
		if err == nil {
			c.revocation.journalled.Add(1)
			return nil
		}
		errs = append(errs, wrap(w, key, err))
	}
	if len(errs) == 0 {
		errs = append(errs, ErrNoWitness)
	}
	return fmt.Errorf("node %s: %w: %d of %d replicas confirmed the delete within %v, and it could not be journalled: %w", node, store.ErrNotReplicated, acked, want, c.durability.Timeout, errors.Join(errs...))
}

// revoked reports whether the session id, just found on master, was
// deleted by a Delete that the journal remembers; it then deletes it
// again. It only looks when this process saw master promoted within
// RevocationTTL, so it costs nothing in normal operation. A journal that
// cannot be read is not a reason to refuse the session: the replay covers
// it.
func (c *Cluster) revoked(ctx context.Context, id, master string) bool {
	ttl := c.durability.RevocationTTL
	if ttl <= 0 || !c.revocation.promotedWithin(master, ttl) {
		return false
	}
	scores := make([]*redis.FloatCmd, len(journalTags))
	_, _ = c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range journalTags {
			scores[i] = p.ZScore(ctx, c.journalKey(i), id)
		}
		return nil
	})
	for _, s := range scores {
		score, err := s.Result()
		if err != nil || time.Since(time.UnixMilli(int64(score))) > ttl {
			continue
		}
		c.revocation.revokedOnLoad.Add(1)
		_ = c.client.Del(ctx, c.Key(id)).Err()
		return true
	}
	return false
}

// replayTimeout bounds how long replay keeps retrying.
const replayTimeout = 30 * time.Second

// replay deletes, on the newly promoted master, every ID journalled in the
// last RevocationTTL whose slot it serves, retrying the journals it could
// not read until replayTimeout.
//
// It sends the deletes to the master itself, not by the client's slot
// table: while a failover settles, the table is read again from whichever
// node answers first, and a node whose gossip has not caught up still
// names the dead master (the slots of the promoted node flap between the
// two). Asked directly, the promoted node deletes what it serves and
// answers MOVED about the rest.
func (c *Cluster) replay(master string) {
	ctx, cancel := context.WithTimeout(c.revocation.ctx, replayTimeout)
	defer cancel()
	pending := make([]int, len(journalTags))
	for i := range pending {
		pending[i] = i
	}
	deleted := 0
	var node *redis.Client
	defer func() {
		if node != nil {
			node.Close()
		}
	}()
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		var failed []int
		var last error
		if node == nil {
			if opt := c.nodeOptions(ctx, master); opt != nil {
				node = redis.NewClient(opt)
			} else {
				failed, last = pending, fmt.Errorf("%s is not in the slot table", master)
			}
		}
		for _, i := range pending {
			if node == nil {
				break
			}
			n, err := c.replayOnce(ctx, node, i)
			if err != nil {
				failed, last = append(failed, i), err
				continue
			}
			deleted += n
		}
		if pending = failed; len(pending) == 0 {
			slog.Info("rediscluster: failover: revocation journal replayed", "master", master, "deleted", deleted)
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			slog.Warn("rediscluster: failover: revocation journal not replayed", "master", master, "journals", len(pending), "err", last)
			return
		case <-t.C:
		}
	}
}

// nodeOptions returns a copy of the client options of the node at addr,
// nil if the slot table names no such node (as master or replica).
func (c *Cluster) nodeOptions(ctx context.Context, addr string) *redis.Options {
	var mu sync.Mutex
	var found *redis.Options
	_ = c.client.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
		if opt := *n.Options(); opt.Addr == addr {
			mu.Lock()
			found = &opt
			mu.Unlock()
		}
		return nil
	})
	return found
}

// replayOnce applies journal i to the promoted master node and returns how
// many sessions it found there and deleted again.
func (c *Cluster) replayOnce(ctx context.Context, node *redis.Client, i int) (int, error) {
	since := strconv.FormatInt(time.Now().Add(-c.durability.RevocationTTL).UnixMilli(), 10)
	ids, err := c.client.ZRangeByScore(ctx, c.journalKey(i), &redis.ZRangeBy{Min: since, Max: "+inf"}).Result()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		// One key per DEL: the sessions' slots differ (CROSSSLOT).
		gone, err := node.Del(ctx, c.Key(id)).Result()
		if isRedirect(err) {
			continue // its slot is elsewhere: that master did not change
		}
		if err != nil {
			return n, err
		}
		n += int(gone)
		c.revocation.replayed.Add(gone)
	}
	return n, nil
}
