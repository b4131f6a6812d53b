package cluster

// RingFor returns the ring options used by default for a cluster created
// with the given number of shards. The rule comes from the scale
// simulation in package bench (docs/benchmarks.md, "Ring quality"), run with
// buraksezer/consistent v0.10.0:
//
//	shards      partitions  points per shard  load
//	≤ 16        4093        500               1.25
//	17 – 128    32749       500               1.25
//	> 128       65521       20                1.25
//
// Why: balance by keys needs many partitions per shard (sampling noise) and
// many points per shard (so that the bounded-load pass rarely has to push a
// partition past its natural owner, which is what makes a change move more
// keys than the ideal); but consistent.New re-sorts the whole ring once per
// member, so building costs about shards² × points: beyond ~128 shards the
// points per shard must drop to keep a build under a second, and balance
// then rests on the load bound (max/mean ≈ Load). The partition count is
// kept across topology changes (Topology changes reuse it while it fits), so
// a cluster created small and grown large keeps its first table: set
// RingOptions.PartitionCount for the size you plan.
func RingFor(shards int) RingOptions {
	switch {
	case shards <= 16:
		return RingOptions{PartitionCount: 4093, ReplicationFactor: 500, Load: 1.25}
	case shards <= 128:
		return RingOptions{PartitionCount: 32749, ReplicationFactor: 500, Load: 1.25}
	}
	return RingOptions{PartitionCount: 65521, ReplicationFactor: 20, Load: 1.25}
}

// PartitionTable builds the ring over shards (by name) with opt, defaults
// filled in for that many shards, and returns for every partition the index
// in shards of its owner: the table the cluster routes by. A key's partition
// is xxhash64(id) mod len(table). It is exported for simulations (package
// bench); New and SetShards build it themselves.
func PartitionTable(shards []string, opt RingOptions) ([]int32, error) {
	opt.initFor(len(shards))
	return partitionOwners(shards, opt)
}
