// Package shard holds one shard of a shardsession cluster: a named Redis
// primary and, optionally, its replicas, each reached through its own
// go-redis client.
//
// A Shard knows nothing about sessions or about the ring that maps session IDs
// to shards (that is package cluster); it owns the connections, turns network
// failures into ErrUnavailable wrapped with the shard's name, and closes
// what it opened. Read routing over replicas and Sentinel-driven primaries
// plug in below it (packages replica and failover).
package shard
