// Package scripts holds the Lua scripts that every Redis backend of
// shardsession runs (the ring of primaries in package cluster, Redis
// Cluster in package rediscluster) and the encoding of their arguments, so
// that the two backends apply a write, index a user or free a lock with the
// very same code.
//
// Every script touches exactly one key (KEYS[1]), so it runs unchanged on
// a standalone primary and on Redis Cluster, where a single-key script is
// routed to the key's slot.
package scripts
