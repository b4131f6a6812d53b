// Package shard holds one shard of a shardsession cluster: a named Redis
// primary and, optionally, its replicas, each reached through its own
// go-redis client.
//
// A Shard knows nothing about sessions or about the ring that maps session IDs
// to shards (that is package cluster); it owns the connections, turns network
// failures into ErrUnavailable wrapped with the shard's name, and closes
// what it opened. Read routing over replicas and Sentinel-driven primaries
// plug in below it (packages replica and failover).
//
// # The methods of a Shard, by use
//
// For applications and operators (a Shard comes from cluster.Cluster's
// ShardFor or Shards): Name, Primary, Replicas, HasReplicas, Stats,
// LastSwitch, Ping.
//
// For a storage backend built on shards (package cluster is one): Read and
// ReadVia send a read where the read policy and the primary's health say,
// Reads is that policy's replica set, Wrap and Fail classify a command's
// error (Fail also counts it), Addr names the node behind a client,
// OnFailover follows Sentinel's switches, Close closes the clients. They
// are exported because package cluster calls them from outside this
// package; an application has no need of them.
package shard
