package cluster

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/shardsession/shardsession/internal/ring"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
)

// Cluster routes session records to shards. It is safe for concurrent use:
// routing reads an immutable snapshot through an atomic pointer and never
// takes a lock.
type Cluster struct {
	prefix     string
	durability Durability
	snap       atomic.Pointer[snapshot]
	reshard    reshardState // topology change state (reshard.go)
	stats      stats
	defaults   shardDefaults // given to shards without their own
	reads      replica.ReadCounters
	batch      batch // auto-pipelined writes (batch.go)
}

// snapshot is one routing state. It is never modified once published.
type snapshot struct {
	shards []*shard.Shard
	owners []int32   // partition → index in shards
	move   moveState // the topology change in progress, if any (reshard.go)
}

// New validates opt, builds the ring and creates a client for every shard.
func New(opt Options) (*Cluster, error) {
	opt.Shards = slices.Clone(opt.Shards) // init fills in defaults
	opt.init()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	names := make([]string, len(opt.Shards))
	seen := make(map[string]bool, len(opt.Shards))
	for i, so := range opt.Shards {
		if seen[so.Name] {
			return nil, fmt.Errorf("%w: shard name %q used twice", ErrBadOptions, so.Name)
		}
		seen[so.Name] = true
		names[i] = so.Name
	}
	owners, err := partitionOwners(names, opt.Ring)
	if err != nil {
		return nil, err
	}
	s := &snapshot{owners: owners, move: moveState{opts: opt.Shards, ring: opt.Ring}}
	defaults := shardDefaults{observer: opt.Observer, replica: opt.Replica}
	for _, so := range defaults.inherit(opt.Shards) {
		sh, err := newShard(so)
		if err != nil {
			closeAll(s.shards)
			return nil, err
		}
		s.shards = append(s.shards, sh)
	}
	c := &Cluster{prefix: opt.KeyPrefix, durability: opt.Durability, defaults: defaults, batch: batch{off: opt.Unbatched}}
	c.snap.Store(s)
	c.followFailovers(s.shards)
	return c, nil
}

// ShardFor returns the shard that owns the session id. It allocates nothing
// and takes no lock. It is the same mapping as consistent.LocateKey.
func (c *Cluster) ShardFor(id string) *shard.Shard {
	s := c.snap.Load()
	return s.shards[ring.Owner(s.owners, id)]
}

// Locate returns the name of the shard that owns the session id.
func (c *Cluster) Locate(id string) string { return c.ShardFor(id).Name() }

// Shards returns the cluster's shards in configuration order. The slice must
// not be modified.
func (c *Cluster) Shards() []*shard.Shard { return c.snap.Load().shards }

// Close closes every shard's clients, including those of a ring being left.
func (c *Cluster) Close() error { return closeAll(c.closing()) }

func closeAll(shards []*shard.Shard) error {
	var errs []error
	for _, sh := range shards {
		errs = append(errs, sh.Close())
	}
	return errors.Join(errs...)
}

// newShard is shard.New, its validation errors wrapped in ErrBadOptions as
// well (shard.New does no I/O: every error it returns is one of options).
func newShard(so shard.Options) (*shard.Shard, error) {
	sh, err := shard.New(so)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	return sh, nil
}
