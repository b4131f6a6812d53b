// Package cluster spreads session records over several shards by consistent
// hashing and is the storage that package session talks to: a *Cluster
// implements store.Store and every optional capability of package store.
//
// A Cluster owns its shards (package shard). It maps a session ID to a shard
// through a ring built with github.com/buraksezer/consistent and xxhash, then
// flattened into an immutable partition → shard table held behind an
// atomic.Pointer (internal/ring): a lookup hashes the ID, takes it modulo the
// partition count and indexes the table, with no lock and no allocation.
//
// Each session is one Redis hash. Writes go through a Lua script so that a
// change is applied whole, bumps the record's version and sets its absolute
// expiry in one step, and so that an update never recreates a record that
// expired or was destroyed meanwhile. keys.go lists every key the cluster
// writes.
//
// A NearCache in front of a Cluster keeps decoded sessions in the web
// node's memory, kept coherent by Redis's invalidations (RESP3 CLIENT
// TRACKING in default mode, one connection per shard, which only the nodes
// holding a session hear of): see NearCache for what it guarantees and
// what it does not.
//
// # The methods of a Cluster, by use
//
// The store, as package session calls it (store.Store and its
// capabilities): Load, Save, Delete, Exists, Locate; Iterate,
// IteratePrefix; IndexUser, UnindexUser, UserSessions; TryLock, Unlock;
// Publish, Watch.
//
// Routing and inspection: ShardFor, Shards, Key, Topology, Stats,
// ReadStats, Close.
//
// Topology changes (see docs/architecture.md): Reshard does a whole change
// (AddShard, RemoveShard, ReplaceShard, SetShards for its first step, then
// Migrate); Follow keeps a web node on the fleet's topology and
// FleetTopology reads it; Apply is the advanced step under all of them.
//
// Maintenance: NewUserSweeper prunes user indexes nobody reads.
package cluster
