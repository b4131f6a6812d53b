package nearcache

import (
	"log/slog"
	"sync"
	"sync/atomic"
)

// admission decides which sessions the cache takes in. A cached session
// costs its server: Redis remembers the node in its tracking table, and
// pushes the key to it at the session's next write or expiry. That pays
// off only if the node reads the session again before. Behind a balancer
// that spreads a session's requests over many nodes it hardly ever does:
// round-robin over 200 nodes, a node is told of nearly every session it
// read before it sees that session again, and its cache costs the
// primaries more CPU than no cache at all (docs/benchmarks.md).
//
// So the cache keeps score: it counts the hits each session it holds
// serves on this node, from its first read to the push that drops it
// (another node's write, a delete, the key's expiry); this node's own
// writes keep the count going. Over each window of Options.ReuseWindow
// dropped sessions, the hits per session are the reuse: what a session
// taken in saved against what it cost. Hits, not sessions that had one, so
// that a crowd of one-request sessions (crawlers) does not hide the busy
// ones. Below Options.MinReuse the cache stops taking sessions in, but for
// a fixed sample of one in sixteen (by the ID's hash) that it goes on
// caching to keep the score; its other sessions are then read and written
// through the backend, uncached and untracked, as with no cache. Once the
// sample's reuse reaches twice MinReuse it takes every session in again.
// What it holds when it stops stays, tracked and served. Each switch is
// logged and counted (Stats.Bypasses, Stats.Bypassing).
type admission struct {
	min    float64 // < 0: take every session in whatever the reuse
	window int

	mu            sync.Mutex
	dropped, hits int64 // of the current window

	bypassing               atomic.Bool
	totalDropped, totalHits atomic.Uint64
	bypasses                atomic.Uint64
}

// Sampled reports whether the cache keeps the session id even while its
// reuse is below Options.MinReuse: one session in sixteen.
func Sampled(id string) bool { return sampled(hash(id)) }

// sampled is Sampled of an ID's hash.
func sampled(h uint64) bool { return h>>60 == 0 }

// admits reports whether the session whose ID hashes to h is to be cached.
func (a *admission) admits(h uint64) bool { return !a.bypassing.Load() || sampled(h) }

// drop scores a session Redis told the cache to drop, which served hits
// hits while held; inSample says whether it is in the sample. While the
// cache bypasses, only the sample is judged: what it took in before
// reflects the time before. At the end of each window it judges, with a
// margin: it stops taking sessions in below min and takes them all in
// again from twice min, so that a reuse near the bound does not switch it
// back and forth.
func (a *admission) drop(hits int64, inSample bool) {
	a.totalDropped.Add(1)
	a.totalHits.Add(uint64(hits))
	a.mu.Lock()
	defer a.mu.Unlock()
	bypassing := a.bypassing.Load()
	if bypassing && !inSample {
		return
	}
	a.dropped++
	a.hits += hits
	n := a.dropped
	if n < int64(a.window) {
		return
	}
	reuse := float64(a.hits) / float64(n)
	a.dropped, a.hits = 0, 0
	switch {
	case a.min < 0:
	case !bypassing && reuse < a.min:
		a.bypassing.Store(true)
		a.bypasses.Add(1)
		slog.Warn("near cache: cached sessions are seldom read again on this node before they change; caching one session in sixteen until that rises, the rest are read from Redis uncached",
			"hits_per_session", reuse, "min_reuse", a.min, "window", n)
	case bypassing && reuse >= 2*a.min:
		a.bypassing.Store(false)
		slog.Info("near cache: cached sessions are read again on this node; caching every session again",
			"hits_per_session", reuse, "min_reuse", a.min, "window", n)
	}
}
