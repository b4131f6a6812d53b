package cluster

import "sync/atomic"

// stats are the cluster's durability and migration counters.
type stats struct {
	unconfirmedSaves   atomic.Int64
	unconfirmedDeletes atomic.Int64
	journalled         atomic.Int64
	revokedOnLoad      atomic.Int64
	replayed           atomic.Int64

	migrationScanned   atomic.Int64
	migratedKeys       atomic.Int64
	migrationRemaining atomic.Int64
}

// Stats are a cluster's durability and migration counters since New.
type Stats struct {
	// UnconfirmedSaves counts saves that fewer than SaveReplicas replicas
	// confirmed within the timeout.
	UnconfirmedSaves int64
	// UnconfirmedDeletes counts deletes that fewer than DeleteReplicas
	// replicas confirmed within the timeout.
	UnconfirmedDeletes int64
	// Journalled counts those deletes recorded in the revocation journal.
	Journalled int64
	// RevokedOnLoad counts sessions found on a shard after a switch although
	// the journal says they were deleted; they were deleted again.
	RevokedOnLoad int64
	// Replayed counts journalled deletes applied again to a new primary.
	Replayed int64

	// MigrationScanned counts the keys the migrator (Migrate) of this
	// process examined.
	MigrationScanned int64
	// MigratedKeys counts the keys this process handed to their new owner
	// during topology changes: by the migrator, or by a request that found
	// its session still on the old owner.
	MigratedKeys int64
	// MigrationRemaining estimates the keys the migrator of this process
	// has left to examine, as of its last batch (Progress.Remaining); 0
	// once it has finished.
	MigrationRemaining int64 `metric:"gauge"`
}

// Stats returns the cluster's durability and migration counters.
func (c *Cluster) Stats() Stats {
	return Stats{
		UnconfirmedSaves:   c.stats.unconfirmedSaves.Load(),
		UnconfirmedDeletes: c.stats.unconfirmedDeletes.Load(),
		Journalled:         c.stats.journalled.Load(),
		RevokedOnLoad:      c.stats.revokedOnLoad.Load(),
		Replayed:           c.stats.replayed.Load(),
		MigrationScanned:   c.stats.migrationScanned.Load(),
		MigratedKeys:       c.stats.migratedKeys.Load(),
		MigrationRemaining: c.stats.migrationRemaining.Load(),
	}
}
