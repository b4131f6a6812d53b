package cluster

import (
	"fmt"
	"time"

	"github.com/shardsession/shardsession/internal/ring"

	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
)

// Options configure a Cluster.
type Options struct {
	// Shards describe the shards. At least one is required and names must be
	// unique. A shard's place on the ring depends only on its name.
	Shards []shard.Options

	// KeyPrefix is put before every session ID to make its Redis key.
	// Default "shardsession:".
	KeyPrefix string

	// Ring tunes the consistent-hash ring; its zero value works.
	Ring RingOptions

	// Observer, if set, is given to every shard whose own Options.Observer
	// is nil: it is told about every Redis command (see shard.Observer and
	// package metrics). Default nil.
	Observer shard.Observer

	// Durability says how many replicas must confirm writes and deletes
	// (Redis WAIT); its zero value waits for one replica on Delete only.
	Durability Durability

	// Replica is the read policy and replica health checking of every shard
	// whose own shard.Options.Replica is the zero value, including shards
	// added later by a topology change. Its zero value
	// reads from primaries only. See package replica, and LoadOptions for
	// read-your-writes.
	Replica replica.Options

	// Unbatched sends every Save and Load on its own round trip. By default
	// saves that do not WAIT for replicas and loads served by the primary go
	// through the primary client's auto-pipeliner (go-redis AutoPipeline):
	// the commands of concurrent requests to one shard share a round trip,
	// and a lone request is sent at once. Default false.
	Unbatched bool
}

// Durability trades latency for fewer writes lost on failover. Redis
// replicates asynchronously: a write (or a DEL) acknowledged by a primary
// that dies before passing it on is lost when a replica is promoted. WAIT
// makes the primary hold the answer until n replicas have the write, which
// narrows that window; it does not close it (see docs/operations.md). On
// shards without replicas nothing is waited for.
type Durability struct {
	// DeleteReplicas is how many replicas must confirm a Delete (logout,
	// revoke, the old ID of a renewal) before it returns. Default 1, so a
	// logout is not undone by a failover; negative: do not wait. A delete
	// that fewer replicas confirmed is recorded in a short-lived revocation
	// journal on another shard (see RevocationTTL) before Delete returns
	// nil; if that is impossible too, Delete returns an error wrapping
	// shard.ErrUnavailable.
	DeleteReplicas int
	// SaveReplicas is how many replicas must confirm a Save. Default 0: do
	// not wait. A Save that fewer confirmed still returns its version (the
	// write is on the primary), with an error wrapping ErrNotReplicated so
	// that the caller may decide, and is counted in Stats. It must not
	// exceed the replica count of a shard configured with static replicas.
	SaveReplicas int
	// Timeout bounds each WAIT. Default 250 ms.
	Timeout time.Duration
	// RevocationTTL is how long a journalled delete is remembered: after a
	// primary switch, sessions deleted within this window are deleted again
	// on the new primary and refused on load. Default 10 minutes.
	RevocationTTL time.Duration
	// LateWrite is how long after Save sends a write the primary may still
	// apply it (store.Write.NotAfter, checked against the Redis server's
	// clock, so keep clocks within a small fraction of it). A write that
	// arrives later, such as one queued on the socket of a primary that
	// was paused past a failover and has just resumed, is refused with
	// ErrUnavailable rather than applied on a branch of history the
	// failover discards. It is counted from before the write waits for a
	// connection, so leave room for a loaded pool and a first dial.
	// Default 5 s (the default client gives up on a write after about 2 s:
	// 1 s ReadTimeout, one retry); negative: no limit.
	LateWrite time.Duration
}

// RingOptions tune the consistent-hash ring (github.com/buraksezer/consistent).
// The defaults depend on the number of shards at New:
//
//	shards      partitions  points per shard  load
//	≤ 16        4093        500               1.25
//	17 – 128    32749       500               1.25
//	> 128       65521       20                1.25
//
// The partition count is kept across topology changes while it fits, so a
// cluster created small and grown large keeps its first table: set
// PartitionCount for the size you plan.
type RingOptions struct {
	// PartitionCount is the number of partitions keys are hashed into; each
	// partition belongs to one shard. It must be at least the number of
	// shards, and it stays fixed across topology changes (changing it moves
	// almost every key), so choose it for the size the cluster will grow
	// to. Default: from the number of shards at New (above).
	PartitionCount int

	// ReplicationFactor is how many points each shard has on the ring.
	// Default: from the number of shards at New (above).
	ReplicationFactor int

	// Load bounds the partitions a shard may own to Load × the average.
	// Default 1.25; it must be ≥ 1.
	Load float64
}

func (o *Options) init() {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "shardsession:"
	}
	o.Ring.initFor(len(o.Shards))
	o.Durability.init()
}

// validate rejects a durability that could never be met.
func (o *Options) validate() error {
	for _, so := range o.Shards {
		if n := len(so.Replicas); n > 0 && o.Durability.SaveReplicas > n {
			return fmt.Errorf("%w: Durability.SaveReplicas %d but shard %s has %d replicas", ErrBadOptions, o.Durability.SaveReplicas, so.Name, n)
		}
	}
	return nil
}

func (o *Durability) init() {
	if o.DeleteReplicas == 0 {
		o.DeleteReplicas = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.RevocationTTL <= 0 {
		o.RevocationTTL = 10 * time.Minute
	}
	if o.LateWrite == 0 {
		o.LateWrite = 5 * time.Second
	}
}

// initFor fills the defaults for a cluster of n shards (see RingOptions).
func (o *RingOptions) initFor(n int) { (*ring.Config)(o).Fill(n) }

// validate rejects a ring that cannot be built for that many shards.
func (o RingOptions) validate(shards int) error {
	if err := ring.Config(o).Validate(shards); err != nil {
		return fmt.Errorf("%w: ring: %w", ErrBadOptions, err)
	}
	return nil
}

// partitionOwners builds the routing table over the shards called names
// (package ring).
func partitionOwners(names []string, opt RingOptions) ([]int32, error) {
	owners, err := ring.Table(names, ring.Config(opt))
	if err != nil {
		return nil, fmt.Errorf("%w: ring: %w", ErrBadOptions, err)
	}
	return owners, nil
}
