package cluster

import (
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
)

// shardDefaults are the cluster-wide settings a shard takes when its own
// shard.Options leave them unset: Options.Observer and Options.Replica.
type shardDefaults struct {
	observer shard.Observer
	replica  replica.Options
}

// inherit returns a copy of opts in which every shard without an Observer
// or read options of its own has the cluster's, so that shards added by a
// topology change are observed and read like the first ones.
func (d shardDefaults) inherit(opts []shard.Options) []shard.Options {
	out := make([]shard.Options, len(opts))
	for i, so := range opts {
		if so.Observer == nil {
			so.Observer = d.observer
		}
		if so.Replica == (replica.Options{}) {
			so.Replica = d.replica
		}
		out[i] = so
	}
	return out
}
