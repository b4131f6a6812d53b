package bench

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/ring"
)

// RingQuality is what the scale simulation measures for one number of
// shards: pure computation over the cluster's own partition table, no Redis.
type RingQuality struct {
	Shards int
	Ring   cluster.RingOptions
	// MaxMean is the largest shard's key count over the mean.
	MaxMean float64
	// Added and Removed are the fractions of keys whose owner changes when
	// one shard is added to Shards, and when one of those Shards+1 (not the
	// one just added) is removed, each over the ideal 1/(Shards+1).
	Added, Removed float64
	// Build is the time to build the ring of Shards+1 shards.
	Build time.Duration
}

// SimulationKeys returns n session IDs shaped like the real ones (64 hex
// digits of a SHA-256), the same for every call.
func SimulationKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		h := sha256.Sum256([]byte(strconv.Itoa(i)))
		keys[i] = hex.EncodeToString(h[:])
	}
	return keys
}

// SimulateRing measures ring quality at n shards over keys, with the ring
// options a cluster created with n shards uses (see cluster.RingOptions), kept for
// the add and the remove as a live topology change keeps them.
func SimulateRing(n int, keys []string) (RingQuality, error) {
	q := RingQuality{Shards: n, Ring: cluster.RingOptions(ring.For(n))}
	names := make([]string, n+1)
	for i := range names {
		names[i] = "s" + strconv.Itoa(i)
	}
	base, err := ring.Table(names[:n], ring.Config(q.Ring))
	if err != nil {
		return q, err
	}
	start := time.Now()
	added, err := ring.Table(names, ring.Config(q.Ring))
	if err != nil {
		return q, err
	}
	q.Build = time.Since(start)
	// Remove s0 from the n+1 shards; indexes shift by one.
	removed, err := ring.Table(names[1:], ring.Config(q.Ring))
	if err != nil {
		return q, err
	}
	counts := make([]int, n)
	var nAdded, nRemoved int
	parts := uint64(len(base))
	for _, k := range keys {
		p := xxhash.Sum64String(k) % parts
		counts[base[p]]++
		if names[base[p]] != names[added[p]] {
			nAdded++
		}
		if names[added[p]] != names[removed[p]+1] {
			nRemoved++
		}
	}
	mean := float64(len(keys)) / float64(n)
	ideal := float64(len(keys)) / float64(n+1)
	q.MaxMean = float64(slices.Max(counts)) / mean
	q.Added, q.Removed = float64(nAdded)/ideal, float64(nRemoved)/ideal
	return q, nil
}

func (q RingQuality) String() string {
	return fmt.Sprintf("| %d | %d | %d | %.2f | %.3f | %.2f× | %.2f× | %v |", q.Shards, q.Ring.PartitionCount, q.Ring.ReplicationFactor, q.Ring.Load,
		q.MaxMean, q.Added, q.Removed, q.Build.Round(time.Millisecond))
}
