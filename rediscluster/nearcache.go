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

	"github.com/shardsession/shardsession/internal/nearcache"
	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/store"
)

// NearCacheOptions configure a NearCache. The zero value works: at most
// 100,000 sessions and 64 MiB, and a hit served without a check only while
// its master's invalidation connection was heard from in the last second
// (HealthInterval; lowered to a quarter of cluster-node-timeout when that
// is shorter, see NearCache).
type NearCacheOptions = nearcache.Options

// NearCacheStats are a NearCache's counters since it was created; Off is
// keyed by master address.
type NearCacheStats = nearcache.Stats

// NearCache is a coherent per-node cache of decoded sessions in front of a
// Cluster, as cluster.NearCache is in front of a ring of shards: a
// session.Store that also serves LoadDecoded, so a session decoded by one
// request is handed to the next with no round trip and no decode.
//
// Coherence: the cache holds one RESP3 connection per master in Redis's
// default tracking mode, and reads each session it caches on the
// connection of the master that owns the session's slot, so that master
// remembers that this node holds it; a write, delete, expiry or eviction
// of the session by any other client makes the master push its key to the
// nodes that hold it, and only to them. What the cluster itself does is
// covered the same way:
//
//   - A slot that moves: MIGRATE deletes each key it moves from the source
//     master, which pushes the key's invalidation like any delete, so no
//     node keeps a copy of a session whose slot has left; the next read
//     goes to the new owner (its connection, started on first use) and is
//     tracked there. A read or write that meets the slot mid-move (ASK,
//     MOVED, TRYAGAIN) is not cached and goes through the Cluster, which
//     follows the redirection.
//   - A failover: the connection to a killed master breaks, which flushes
//     the whole cache. A master that hangs (SIGSTOP, a partition) is
//     noticed by its silence: a hit is served only while the master's
//     connection was heard from within HealthInterval, else after a PING
//     that it answers, and the cache lowers HealthInterval to a quarter of
//     the cluster's cluster-node-timeout (read with CONFIG GET), so that
//     nothing cached from a master that froze is served once the cluster
//     can have promoted a replica and accepted writes elsewhere. Where
//     CONFIG is refused, keep HealthInterval below cluster-node-timeout
//     (15 s by default, so the 1 s default is fine).
//
// This node's saves go on the same connection where they can (NOLOOP
// tracking, write-through: the writer's next read is a hit); saves that
// wait for replicas (Durability.SaveReplicas) go through the Cluster. A
// user who writes on one node and reads on another within the delivery
// delay of the invalidation needs the version carried by the signed
// cookie (LoadDecoded's minVersion), as with cluster.NearCache.
//
// As on a ring (cluster.NearCache), it pays off behind a balancer that
// sends a session's requests back to one node; behind round-robin over N
// nodes a node's hit rate falls as 1/N, while each master remembers every
// node that read a session since its last write; and, as there, a cache
// whose sessions serve too few hits stops taking them in but for a sample
// (NearCacheOptions.MinReuse).
//
// A NearCache is safe for concurrent use. Close it before its Cluster.
type NearCache struct {
	*nearcache.Cache // LoadDecoded, Save, Delete, Invalidate, Flush, Stats
	c                *Cluster

	healthOnce sync.Once
	health     time.Duration // from cluster-node-timeout; 0: the option's

	events sync.Map // master address → *pubsub.Listeners: the Watch calls on its stream

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// The session capabilities a NearCache adds, checked at compile time.
var _ store.Store = (*NearCache)(nil)

// NewNearCache returns a near cache over c. It contacts nothing: each
// master's connection starts in the background on first use (Ready starts
// and waits for all of them); until it is up, that master's sessions are
// read from Redis and not cached.
func NewNearCache(c *Cluster, opt NearCacheOptions) (*NearCache, error) {
	nc := &NearCache{c: c}
	cache, err := nearcache.New(nearBackend{nc}, c.prefix, "master", opt)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	nc.Cache = cache
	ctx, stop := context.WithCancel(context.Background())
	nc.stop = stop
	nc.wg.Go(func() { nc.sweep(ctx) })
	return nc, nil
}

// Close stops the tracking connections and empties the cache. It does not
// close the Cluster.
func (nc *NearCache) Close() error {
	nc.stop()
	nc.wg.Wait()
	return nc.Cache.Close()
}

// tracker returns the invalidation stream of the master m, starting it
// the first time.
func (nc *NearCache) tracker(ctx context.Context, m *redis.Client) *tracking.Stream {
	opt := m.Options()
	return nc.Stream(opt.Addr, func() nearcache.StreamSpec {
		return nearcache.StreamSpec{Client: opt, Health: nc.nodeHealth(ctx, m), Started: func(t *tracking.Stream) {
			t.Message = func(channel, payload string) {
				nc.listeners(opt.Addr).Each(func(w *masterEvents) { w.message(channel, payload) })
			}
			t.Subscribed = func(channel string) {
				// Not on the stream's goroutine: it may send commands.
				nc.listeners(opt.Addr).Each(func(w *masterEvents) { go w.subscribed(channel) })
			}
		}}
	})
}

// nodeHealth is the HealthInterval the cluster's failure detection asks
// for: a quarter of cluster-node-timeout, asked once of the first master
// the cache connects to; 0 (the option's) where CONFIG is refused or the
// option is already shorter.
func (nc *NearCache) nodeHealth(ctx context.Context, m *redis.Client) time.Duration {
	nc.healthOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		kv, err := m.ConfigGet(ctx, "cluster-node-timeout").Result()
		ms, perr := strconv.Atoi(kv["cluster-node-timeout"])
		if err != nil || perr != nil || ms <= 0 {
			slog.Info("near cache: cluster-node-timeout unknown; keep HealthInterval below it, or a hung master's replica may take writes while this node still serves what it cached",
				"master", m.Options().Addr, "err", errors.Join(err, perr))
			return
		}
		nc.health = time.Duration(ms) * time.Millisecond / 4
	})
	return nc.health // 0 leaves the option's interval; Cache takes the smaller
}

// sweepEvery is how often the cache looks for streams to drop, and
// dropAfter how long a stream must have been down to be dropped: a master
// removed from the cluster, or one dead and replaced, whose address would
// otherwise be dialled every second for ever. Its slots' sessions are read
// on their new master's stream; an address that becomes a master again
// gets a new stream on first use.
const (
	sweepEvery = 5 * time.Second
	dropAfter  = 10 * time.Second
)

// sweep drops the streams that have been down for dropAfter, except those
// whose server refuses tracking (they stay, to be reported by Stats). It
// only looks at the streams' state: it sends nothing.
func (nc *NearCache) sweep(ctx context.Context) {
	down := map[string]time.Time{}
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			for _, name := range nc.Streams() {
				switch since, seen := down[name]; {
				case nc.Up(name) || nc.Refused(name):
					delete(down, name)
				case !seen:
					down[name] = now
				case now.Sub(since) >= dropAfter:
					nc.Drop(name)
					delete(down, name)
				}
			}
		}
	}
}

// Ready starts the invalidation stream of every master and waits until all
// are up. It fails at once, naming the master, when a server refused
// tracking (see NearCacheStats.Off).
func (nc *NearCache) Ready(ctx context.Context) error {
	return nc.Cache.Ready(ctx, func() (map[string]*tracking.Stream, error) {
		var mu sync.Mutex
		ts := map[string]*tracking.Stream{}
		err := nc.c.client.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
			t := nc.tracker(ctx, m)
			mu.Lock()
			ts[m.Options().Addr] = t
			mu.Unlock()
			return nil
		})
		return ts, err
	})
}

// Load implements session.Store: it reads the record's fields from the
// Cluster, uncached (LoadDecoded is the cached path).
func (nc *NearCache) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	return nc.c.Load(ctx, id, opt)
}

// Locate returns the address of the master that owns session id's slot.
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

// Stream is the tracking stream of the master that owns id's slot, as the
// client's slot table says; nil for writes that wait for replicas (a WAIT
// would hold the stream) and when the slot has no known master.
func (b nearBackend) Stream(ctx context.Context, id string, write bool) *tracking.Stream {
	if write && b.nc.c.durability.SaveReplicas > 0 {
		return nil
	}
	m, err := b.nc.c.client.MasterForKey(ctx, b.nc.c.Key(id))
	if err != nil {
		return nil
	}
	return b.nc.tracker(ctx, m)
}

func (b nearBackend) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	return b.nc.c.Load(ctx, id, opt)
}

func (b nearBackend) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	return b.nc.c.Save(ctx, id, w)
}

func (b nearBackend) Delete(ctx context.Context, id string) error { return b.nc.c.Delete(ctx, id) }

func (b nearBackend) Bound(w store.Write) store.Write { return w }

func (b nearBackend) LoadScript(ctx context.Context, id string) error {
	key := b.nc.c.Key(id)
	m, err := b.nc.c.client.MasterForKey(ctx, key)
	if err == nil {
		err = scripts.Save.Load(ctx, m).Err()
	}
	return wrap("", key, err)
}

// SaveFailed: a slot in motion (MOVED, ASK, TRYAGAIN) or a cluster
// electing a master (CLUSTERDOWN) refused the script before it ran: the
// save goes through the Cluster, which follows and retries.
func (b nearBackend) SaveFailed(id string, err error) (bool, error) {
	if isMoving(err) {
		return true, nil
	}
	return false, wrap("", b.nc.c.Key(id), err)
}

func (b nearBackend) SaveReply(id string, reply int64) (int64, error) {
	v, err := scripts.SaveReply(reply)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", where("", b.nc.c.Key(id)), err)
	}
	return v, nil
}
