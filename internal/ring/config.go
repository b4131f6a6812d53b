package ring

// Config tunes the ring. Its fields are those of cluster.RingOptions.
type Config struct {
	// PartitionCount is the number of partitions keys are hashed into; each
	// belongs to one shard. It must be at least the number of shards.
	PartitionCount int
	// ReplicationFactor is how many points each shard has on the ring.
	ReplicationFactor int
	// Load bounds the partitions a shard may own to Load × the average; ≥ 1.
	Load float64
}

// Fill sets the zero fields of c to For(shards)'s.
func (c *Config) Fill(shards int) {
	def := For(shards)
	if c.PartitionCount == 0 {
		c.PartitionCount = def.PartitionCount
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = def.ReplicationFactor
	}
	if c.Load == 0 {
		c.Load = def.Load
	}
}

// For returns the configuration a cluster created with the given number of
// shards uses by default. The rule comes from the scale
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
// PartitionCount for the size you plan.
func For(shards int) Config {
	switch {
	case shards <= 16:
		return Config{PartitionCount: 4093, ReplicationFactor: 500, Load: 1.25}
	case shards <= 128:
		return Config{PartitionCount: 32749, ReplicationFactor: 500, Load: 1.25}
	}
	return Config{PartitionCount: 65521, ReplicationFactor: 20, Load: 1.25}
}
