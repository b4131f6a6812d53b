// Package replica decides which node of a shard serves a read: the primary
// or one of its replicas, under a read policy, skipping replicas that are
// not fit to serve.
//
// A Set watches one primary's replicas in the background. Every
// CheckInterval it asks the primary for its replication offset and each
// replica for INFO replication — while something wants them: under the
// default policy, PrimaryOnly, a Set sleeps (sends nothing) once Idle has
// passed since the last request that asked for a replica, the last
// degraded read (Fallback) or the last look at their health, and wakes on
// the next one; a replica is healthy when it answers, calls
// itself a replica, reports master_link_status:up and is no more than MaxLag
// behind the primary (see Status.Lag). When the shard's nodes change (a
// shard found through Sentinel, NewDiscovering), the Set also learns the
// current primary's address at every round, and from SetPrimary as soon as
// a switch is heard: a replica then serves only while its last check found
// it following that primary (master_host:master_port), so a deposed primary
// that comes back, or a replica still attached to it, never answers a
// read. An unhealthy replica is skipped until
// a later check finds it healthy again. The caller may also mark a replica
// down at once when a read from it fails (MarkDown).
//
// The policy (PrimaryOnly, ReplicaPreferred, LowestLatency) is chosen per
// Set and may be overridden for one request with WithPolicy.
//
// A healthy replica can still be behind by up to MaxLag: replication is
// asynchronous. Package replica only picks the node; package cluster checks
// the record's version against the reader's last write and retries on the
// primary when the replica's copy is older (read-your-writes).
//
// Layering: session → cluster → shard → replica. This package knows nothing
// of sessions or rings; it sees go-redis clients only.
package replica
