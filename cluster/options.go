package cluster

import (
	"errors"

	"github.com/shardsession/shardsession/shard"
)

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad cluster options")

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
}

// RingOptions tune the consistent-hash ring (github.com/buraksezer/consistent).
type RingOptions struct {
	// PartitionCount is the number of partitions keys are hashed into; each
	// partition belongs to one shard. More partitions balance load more
	// evenly but move more keys when shards change. Default 271 (a prime, the
	// library's default); it must be at least the number of shards.
	PartitionCount int

	// ReplicationFactor is how many points each shard has on the ring.
	// Default 20.
	ReplicationFactor int

	// Load bounds the partitions a shard may own to Load × the average.
	// Default 1.25; it must be ≥ 1.
	Load float64
}

func (o *Options) init() {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "shardsession:"
	}
	o.Ring.init()
}

func (o *RingOptions) init() {
	if o.PartitionCount == 0 {
		o.PartitionCount = 271
	}
	if o.ReplicationFactor == 0 {
		o.ReplicationFactor = 20
	}
	if o.Load == 0 {
		o.Load = 1.25
	}
}
