package cluster

import (
	"context"
	"fmt"
	"sync"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/nearcache"
	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// NearCacheOptions configure a NearCache. The zero value works: at most
// 100,000 sessions and 64 MiB, and a hit served without a check only while
// its shard's invalidation connection was heard from in the last second
// (HealthInterval).
type NearCacheOptions = nearcache.Options

// NearCacheStats are a NearCache's counters since it was created.
type NearCacheStats = nearcache.Stats

// NearCacheSampled reports whether a near cache keeps the session id even
// while it takes no other sessions in (NearCacheOptions.MinReuse): one
// session in sixteen, by its ID's hash, the same on every node.
func NearCacheSampled(id string) bool { return nearcache.Sampled(id) }

// NearCache is a coherent per-node cache of decoded sessions in front of a
// Cluster. It is a session.Store (reads and writes go to the Cluster) that
// also serves LoadDecoded: a session decoded by one request is handed,
// still decoded, to the next, with no network round trip and no decode.
//
// Coherence: for every shard the cache holds one RESP3 connection to the
// primary in Redis's default tracking mode (tracking.Stream), and reads
// the sessions it caches on that connection, so Redis remembers that this
// node holds them. A write, delete, expiry or eviction of a held session by
// any other connection makes Redis push its key to the nodes that hold it,
// which drop the entry; a node that never read a session hears nothing of
// it. Replies and pushes arrive in order on the connection: a read's answer
// is cached only if no write of this node and no loss of the connection
// came in between, and a write pushed after the read drops it. While a
// shard's connection is down nothing of that shard is cached, and every
// loss of a connection (or a switch of primary) flushes the whole cache.
// A connection that has said nothing for HealthInterval (a hung primary, a
// silent partition, or only a quiet shard) is asked first: a hit on it
// waits for a PING's reply, behind which Redis has sent every invalidation
// due; no reply, no hit. An idle node sends nothing. An entry leaves when
// Redis pushes its key (its expiry included: Redis deletes an expired key
// and tells the nodes that hold it), and session.Manager refuses a session
// past its idle timeout or deadline by its own clock. While shards are
// added or removed, reads and writes go through the Cluster and nothing is
// cached until the move is over.
//
// Write-through: this node's saves go on the same connection where they
// can, and the cache keeps the record as written, so the writer's next read
// is a hit; the tracking is NOLOOP, so Redis does not report those writes
// back to it. Saves that wait for replicas (Durability.SaveReplicas) go
// through the Cluster.
//
// What remains is the delivery delay: a node serves its entry until the
// invalidation reaches it, typically well under a millisecond after the
// writer's reply. A user who writes on one node and reads on another within
// that time needs a version carried by the client (the minVersion of
// LoadDecoded, read-your-writes).
//
// It pays off when a session's requests come back to the node that read
// it: behind a balancer that hashes the session cookie, a node's hit rate
// is the same whatever the fleet's size; behind round-robin over N nodes
// it falls as 1/N, while each primary remembers every node that read a
// session since its last write (memory: docs/architecture.md, "Tracking
// table"). So the cache counts the hits each session it held served
// before Redis told it to drop the session: below NearCacheOptions.MinReuse
// (0.1 per session) it stops taking sessions in but for a sample of one in
// sixteen, which goes on counting, and the node costs Redis little more
// than a node with no near cache; it logs each switch and counts it
// (NearCacheStats.Bypasses, Bypassing).
//
// A NearCache is safe for concurrent use. Close it before its Cluster.
type NearCache struct {
	*nearcache.Cache // LoadDecoded, Save, Delete, Invalidate, Flush, Stats, Close
	c                *Cluster
	events           sync.Map // shard name → *pubsub.Listeners: the Watch calls on its stream
}

// NewNearCache starts a near cache over c: one tracking connection per
// shard, in the background. Until a shard's connection is up, its sessions
// are read from Redis and not cached; Ready waits for all of them.
func NewNearCache(c *Cluster, opt NearCacheOptions) (*NearCache, error) {
	nc := &NearCache{c: c}
	cache, err := nearcache.New(nearBackend{nc}, c.prefix, "shard", opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	nc.Cache = cache
	for _, sh := range c.Shards() {
		nc.tracker(sh)
	}
	return nc, nil
}

// tracker returns the invalidation stream of sh, starting it the first
// time: shards added to the cluster later get theirs on first use. A
// switch of sh's primary resets it, which flushes the cache: the new
// primary knows nothing of what this node holds.
func (nc *NearCache) tracker(sh *shard.Shard) *tracking.Stream {
	return nc.Stream(sh.Name(), func() nearcache.StreamSpec {
		return nearcache.StreamSpec{
			Client: sh.Primary().Options(),
			Started: func(t *tracking.Stream) {
				sh.OnFailover(func(ev failover.Event) {
					if ev.Kind == failover.SwitchMaster {
						t.Reset()
					}
				})
				t.Message = func(channel, payload string) {
					nc.listeners(sh.Name()).Each(func(w *shardEvents) { w.message(channel, payload) })
				}
				t.Subscribed = func(channel string) {
					// Not on the stream's goroutine: it may send commands.
					nc.listeners(sh.Name()).Each(func(w *shardEvents) { go w.subscribed(channel) })
				}
			},
		}
	})
}

// Ready waits until the invalidation stream of every shard of the cluster
// is up. It fails at once, naming the shard, when a server refused
// tracking and no stream of that shard is up (see
// NearCacheStats.TrackingRefused).
func (nc *NearCache) Ready(ctx context.Context) error {
	return nc.Cache.Ready(ctx, func() (map[string]*tracking.Stream, error) {
		ts := map[string]*tracking.Stream{}
		for _, sh := range nc.c.Shards() {
			ts[sh.Name()] = nc.tracker(sh)
		}
		return ts, nil
	})
}

// Load implements session.Store: it reads the record's fields from the
// Cluster, uncached (LoadDecoded is the cached path).
func (nc *NearCache) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	return nc.c.Load(ctx, id, opt)
}

// Locate returns the name of the shard that owns the session id.
func (nc *NearCache) Locate(id string) string { return nc.c.Locate(id) }

// Cluster returns the cluster the cache is in front of.
func (nc *NearCache) Cluster() *Cluster { return nc.c }

// Unwrap returns the cluster the cache is in front of, as a store.Store:
// package session looks there for the capabilities a cache does not add
// (store.Unwrapper).
func (nc *NearCache) Unwrap() store.Store { return nc.c }

// nearBackend is the Cluster as the near cache's backend.
type nearBackend struct{ nc *NearCache }

func (b nearBackend) Key(id string) string { return b.nc.c.Key(id) }

// Stream is the tracking stream of id's shard, or nil while shards are
// added or removed (a record may still be on its previous owner: the
// Cluster's read-through and dual writes know what to do), while this
// node's topology lease has run out, and for writes that wait for
// replicas (a WAIT would hold the stream).
func (b nearBackend) Stream(_ context.Context, id string, write bool) *tracking.Stream {
	c := b.nc.c
	if write && c.durability.SaveReplicas > 0 {
		return nil
	}
	if s := c.snap.Load(); s.move.slow && (s.move.prev != nil || c.checkLease(s) != nil) {
		return nil
	}
	return b.nc.tracker(c.ShardFor(id))
}

func (b nearBackend) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	return b.nc.c.Load(ctx, id, opt)
}

func (b nearBackend) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	return b.nc.c.Save(ctx, id, w)
}

func (b nearBackend) Delete(ctx context.Context, id string) error { return b.nc.c.Delete(ctx, id) }

func (b nearBackend) Bound(w store.Write) store.Write { return b.nc.c.bounded(w) }

func (b nearBackend) LoadScript(ctx context.Context, id string) error {
	sh := b.nc.c.ShardFor(id)
	return sh.Wrap(scripts.Save.Load(ctx, sh.Primary()).Err())
}

// SaveFailed: an error reply on a shard's primary is that shard's failure
// (its breaker counts it); nothing is resent.
func (b nearBackend) SaveFailed(id string, err error) (bool, error) {
	return false, b.nc.c.ShardFor(id).Fail(err)
}

func (b nearBackend) SaveReply(id string, reply int64) (int64, error) {
	return savedVersion(b.nc.c.ShardFor(id), reply)
}
