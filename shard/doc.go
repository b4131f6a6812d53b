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
// OnFailover follows the primary's switches, Close closes the clients. They
// are exported because package cluster calls them from outside this
// package; an application has no need of them.
//
// # Switches of the primary
//
// A shard found through Sentinel learns of a switch from Sentinel's
// +switch-master. A shard with static addresses learns of it from the
// server: each new connection of its primary's client asks INFO server
// replication, and a primary with another run_id or replication ID than
// the one seen before behind the same Addr (a managed service repointed
// its endpoint, or the node restarted) is a switch. Both kinds reach the
// same reaction (breakers reset, replicas checked again, OnFailover
// listeners called once); nothing is polled for it. A connection whose
// Addr leads to a replica, or back to the replaced primary, fails with
// ErrNotPrimary. See Options.NoIdentityCheck.
package shard
