package cluster

import "github.com/shardsession/shardsession/shard"

// observed returns a copy of opts in which every shard without an Observer
// of its own has o (Options.Observer), so that shards added by a topology
// change are observed like the first ones.
func observed(opts []shard.Options, o shard.Observer) []shard.Options {
	out := make([]shard.Options, len(opts))
	for i, so := range opts {
		if so.Observer == nil {
			so.Observer = o
		}
		out[i] = so
	}
	return out
}
