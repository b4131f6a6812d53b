// Package rediscluster keeps session records in a Redis Cluster: a
// *Cluster implements store.Store and every optional capability of package
// store, so session.Manager and the scs and gorilla adapters run on it
// unchanged.
//
// The engine does the distribution: Redis Cluster splits the key space
// into 16384 hash slots owned by masters, promotes a replica when a master
// fails, and moves slots between masters when an operator reshards. A
// *Cluster routes every command by the key's slot through a go-redis
// ClusterClient, which follows MOVED and ASK redirections and refreshes
// its slot table on its own; this package has no ring and no resharding of
// its own. What it adds is the session semantics shared with package
// cluster, with the very same Lua scripts (internal/scripts): atomic
// writes with versions, write IDs that make a resent write harmless,
// compare-and-set, WAIT-confirmed deletes and saves on the connection that
// wrote, the per-user index, locks, iteration across masters, and events
// from every master.
//
// Every key a Cluster writes is listed in keys.go. Each operation touches
// one key, so sessions, locks and user indexes need no hash tag; only the
// revocation journal's keys carry one, to land on another master than the
// sessions they protect (revoke.go).
//
// Reads: Options.ReadPolicy lets the replicas of a key's slot serve loads,
// trusted only when at least as new as the caller's last write
// (store.LoadOptions.MinVersion), else retried on the master (reads.go).
//
// Deletes: a delete that fewer replicas than Durability.DeleteReplicas
// confirmed is journalled on another master; after this process sees a
// replica promoted (topology.go), the journalled deletes are applied again
// on it and checked on load, so that a logout survives the failover
// (revoke.go).
//
// Near cache: NewNearCache puts a coherent per-node cache of decoded
// sessions in front of a Cluster, with one tracking connection per master
// (default-mode CLIENT TRACKING: a master tells only the nodes that read a
// session of its writes); a slot that moves and a master that fails or
// hangs drop what the node cached of it (nearcache.go).
//
// Errors: a node that cannot answer (network failure, timeout, LOADING,
// CLUSTERDOWN, TRYAGAIN after the retries, a MOVED or ASK loop) gives an
// error wrapping store.ErrUnavailable with the address of the node or the
// slot. A command refused while its slot moves (TRYAGAIN, ASK, a MOVED
// go-redis did not follow) or while the cluster elects a master
// (CLUSTERDOWN) is retried, with a fresh slot table, until the context's
// deadline (Options.MoveRetry when it has none). A node that does not
// answer at all fails at once (go-redis's own retries aside, nothing waits
// for a failover), unless the other masters say the key's slot has left
// it: a master removed after a reshard, or replaced by its replica; then
// the request is retried on the slot's new master (gone.go).
//
// Concurrency: every method of *Cluster is safe for concurrent use. A
// load, or a save or delete that waits for no replica, goes out alone when
// nothing else is in flight to the same master and through that master's
// auto-pipeliner when other commands are (batch.go): concurrent requests
// share round trips, and a master that stops answering holds up only its
// own.
package rediscluster
