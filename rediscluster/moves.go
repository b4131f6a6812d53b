package rediscluster

import (
	"errors"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// MoveStats counts the replies that a Cluster retried because a slot was
// moving or a master was being elected (see Cluster.retry): what clients
// would have seen as errors during a reshard or a failover had the store
// not retried. go-redis follows most MOVED and ASK replies itself, before
// the store sees them; those are not counted here.
type MoveStats struct {
	// Ask counts ASK replies (the key has left a migrating slot).
	Ask int64
	// Moved counts MOVED replies (the slot table was stale).
	Moved int64
	// TryAgain counts TRYAGAIN replies (the keys of a command are split
	// between the two ends of a migrating slot).
	TryAgain int64
	// ClusterDown counts CLUSTERDOWN replies (no master for the slot yet).
	ClusterDown int64
	// Gone counts requests that failed on the network at a node which no
	// longer served their slot (a master removed from the cluster, or
	// replaced by its replica; gone.go), then retried.
	Gone int64
}

// Total is the sum of the counts.
func (s MoveStats) Total() int64 { return s.Ask + s.Moved + s.TryAgain + s.ClusterDown + s.Gone }

// Add returns the sum of s and o: the counts of two Clusters.
func (s MoveStats) Add(o MoveStats) MoveStats {
	return MoveStats{s.Ask + o.Ask, s.Moved + o.Moved, s.TryAgain + o.TryAgain, s.ClusterDown + o.ClusterDown, s.Gone + o.Gone}
}

// Sub returns s minus before: the counts of a period.
func (s MoveStats) Sub(before MoveStats) MoveStats {
	return MoveStats{s.Ask - before.Ask, s.Moved - before.Moved, s.TryAgain - before.TryAgain, s.ClusterDown - before.ClusterDown, s.Gone - before.Gone}
}

// moveCounters are a Cluster's MoveStats, counted concurrently.
type moveCounters struct {
	ask, moved, tryAgain, clusterDown, gone atomic.Int64
}

// add counts err if it is one of the replies retry retries.
func (m *moveCounters) add(err error) {
	var re redis.Error
	if !errors.As(err, &re) {
		return
	}
	switch msg := re.Error(); {
	case strings.HasPrefix(msg, "ASK "):
		m.ask.Add(1)
	case strings.HasPrefix(msg, "MOVED "):
		m.moved.Add(1)
	case strings.HasPrefix(msg, "TRYAGAIN"):
		m.tryAgain.Add(1)
	case strings.HasPrefix(msg, "CLUSTERDOWN"):
		m.clusterDown.Add(1)
	}
}

// MoveStats returns how many replies of each kind the Cluster has retried
// since New.
func (c *Cluster) MoveStats() MoveStats {
	return MoveStats{c.moves.ask.Load(), c.moves.moved.Load(), c.moves.tryAgain.Load(), c.moves.clusterDown.Load(), c.moves.gone.Load()}
}
