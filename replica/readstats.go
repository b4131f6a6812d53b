package replica

import "sync/atomic"

// ReadStats are counters of a store's Loads under a read policy, since the
// store was made (cluster.Cluster.ReadStats, rediscluster.Cluster.ReadStats).
// They only grow.
type ReadStats struct {
	// PrimaryReads and ReplicaReads count Loads by who answered: the
	// replica the read policy picked, or the primary (a master on a Redis
	// Cluster). On a ring, a degraded-mode read, served by a replica while
	// the primary is down, counts as a primary read; shard.Stats counts
	// those.
	PrimaryReads, ReplicaReads int64
	// StaleRetries counts replica answers older than the caller's
	// LoadOptions.MinVersion (or missing, or another write at it) that
	// were retried on the primary.
	StaleRetries int64
	// ReplicaErrors counts replica reads that failed and were retried on
	// the primary; the replica is set aside for a while.
	ReplicaErrors int64
	// VersionRegressions counts primary answers older than MinVersion (or
	// at MinVersion with another write than MinWrite): a write
	// acknowledged earlier is gone, typically lost in a failover.
	VersionRegressions int64
}

// StaleRetryRate is StaleRetries over the Loads that asked a replica first.
func (s ReadStats) StaleRetryRate() float64 {
	asked := s.ReplicaReads + s.StaleRetries + s.ReplicaErrors
	if asked == 0 {
		return 0
	}
	return float64(s.StaleRetries) / float64(asked)
}

// ReadCounters count a store's Loads as they happen, for its ReadStats.
type ReadCounters struct {
	PrimaryReads, ReplicaReads, StaleRetries, ReplicaErrors, VersionRegressions atomic.Int64
}

// Stats returns the counters' values.
func (r *ReadCounters) Stats() ReadStats {
	return ReadStats{
		PrimaryReads:       r.PrimaryReads.Load(),
		ReplicaReads:       r.ReplicaReads.Load(),
		StaleRetries:       r.StaleRetries.Load(),
		ReplicaErrors:      r.ReplicaErrors.Load(),
		VersionRegressions: r.VersionRegressions.Load(),
	}
}
