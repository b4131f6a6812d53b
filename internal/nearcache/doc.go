// Package nearcache is the coherent per-node cache of decoded sessions
// behind cluster.NearCache (a ring of shards) and rediscluster.NearCache (a
// Redis Cluster). A Cache holds the entries, reads and writes them on the
// invalidation streams of package tracking, and keeps one stream per server
// it reads from; a Backend says which server holds a session now and how to
// reach it the ordinary way.
//
// Coherence: the cache reads the sessions it keeps on the stream of the
// server that holds them, so Redis remembers that this node holds them
// (default tracking mode). A write, delete, expiry or eviction of a held
// session by any other connection makes Redis push its key to the nodes
// that hold it, which drop the entry; a node that never read a session
// hears nothing of it. Replies and pushes arrive in order on the
// connection: a read's answer is cached only if no write of this node and
// no loss of the connection came in between, and a write pushed after the
// read drops it. While a server's stream is down nothing it holds is
// cached, and every loss of a stream flushes the whole cache. A hit is
// served only from a stream heard from within Options.HealthInterval, or
// after a PING on it has been answered (every invalidation due comes
// before the reply): that is the streams' only health check, so an idle
// node sends nothing, and a hung server's entries are never served. A
// miss is one command (HGETALL): an entry read from Redis carries no TTL
// of its own, its key's expiry reaching it as Redis's invalidation when
// Redis deletes the key (its active expiry may take from milliseconds to
// minutes on a large keyspace), and session.Manager refuses a session past
// its idle timeout or deadline by its own clock; an entry written through
// expires at the write's ExpireAt.
//
// Write-through: this node's saves go on the same stream where they can,
// and the cache keeps the record as written, so the writer's next read is
// a hit; the tracking is NOLOOP, so Redis does not report those writes
// back to it.
package nearcache
