// Package tracking keeps a Redis invalidation stream: one RESP3 connection
// per server in client-side-caching tracking mode (CLIENT TRACKING), whose
// pushes name the keys that changed. The near caches (internal/nearcache)
// hold one Stream per shard or Redis Cluster master and drop what the
// stream says changed. The package speaks just enough RESP3 for that
// (resp3.go) and knows nothing of sessions or shards.
package tracking
