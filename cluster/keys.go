package cluster

import (
	"strconv"
	"strings"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/shard"
)

// Every Redis key and channel the cluster uses, in one place. All keys
// start with Options.KeyPrefix (P below); the part after it is the "ID"
// that placement() hands to the ring.
//
//	key / channel             type     TTL                    shard              migrator
//	P<id>                     hash     session's expiry       owner of id        moved
//	P lock:<id>               string   lock's ttl             owner of id        moved (with its session)
//	P user:<user>             zset     its last member's      owner of user:<u>  moved
//	P revoked:<shard>         zset     RevocationTTL          a witness shard    left (belongs to its witness)
//	P ~topology               hash     none                   every shard        left (the cluster's own)
//	P ~nodes, P ~seen         hash, zset  none (entries age)  every shard        left
//	P ~migrate:<epoch>        string   7 days                 each shard walked  left
//	P ~moving:<id part>       string   1 hour (lease 5 s)     a key's old owner  left (copy mover's mark)
//	P ~gone:<id part>         string   1 minute               a key's new owner  left (copy mover's tombstone)
//	P events                  channel  —                      every primary      —
//	__keyevent@0__:expired    channel  —                      every primary      —
//
// Session IDs never contain ':' or start with '~' (validID), so no session
// key can be taken for one of the others.

// The marks that start the ID part of the keys that are not sessions.
const (
	// reservedMark starts the cluster's own records (topology, node
	// acknowledgements, migration cursors): never sessions, never moved.
	reservedMark = "~"
	// journalMark starts a revocation journal's key (revoke.go).
	journalMark = "revoked:"
	// lockMark starts a session lock's key (lock.go).
	lockMark = "lock:"
	// userMark starts a user index's key (users.go).
	userMark = "user:"
)

// Key returns the Redis key of the session id.
func (c *Cluster) Key(id string) string { return c.prefix + id }

// lockKey is the key of session id's lock; it lives on the session's shard.
func (c *Cluster) lockKey(id string) string { return c.prefix + lockMark + id }

// userID is the ID by which the ring places user's index.
func userID(user string) string { return userMark + user }

// userKey is the key of user's index.
func (c *Cluster) userKey(user string) string { return c.prefix + userID(user) }

// journalKey is the key of sh's revocation journal on its witness.
func (c *Cluster) journalKey(sh *shard.Shard) string {
	return c.prefix + journalMark + sh.Name()
}

// The topology record and the nodes' acknowledgements (record.go).
func (c *Cluster) topologyKey() string { return c.prefix + reservedMark + "topology" }
func (c *Cluster) nodesKey() string    { return c.prefix + reservedMark + "nodes" }
func (c *Cluster) seenKey() string     { return c.prefix + reservedMark + "seen" }

// cursorKey is where the walk of one shard by the migration of epoch saves
// its SCAN cursor.
func (c *Cluster) cursorKey(epoch int64) string {
	return c.prefix + reservedMark + "migrate:" + strconv.FormatInt(epoch, 10)
}

// eventChannel is the Pub/Sub channel, on every primary, where writers
// announce created, renewed and destroyed sessions.
func (c *Cluster) eventChannel() string { return c.prefix + "events" }

// expiredChannel is where Redis announces expired keys of DB 0 once
// notify-keyspace-events includes "Ex".
const expiredChannel = keyspace.ExpiredChannel

// placement returns the ID by which the ring places the key whose part
// after KeyPrefix is id, and false for keys the migrator leaves alone: the
// cluster's own, and revocation journals, which live on a witness shard.
// A session lock lives with its session; a user index is placed by its
// own name (userID), like a session.
func placement(id string) (string, bool) {
	if strings.HasPrefix(id, reservedMark) || strings.HasPrefix(id, journalMark) {
		return "", false
	}
	if sid, ok := strings.CutPrefix(id, lockMark); ok {
		return sid, true
	}
	return id, true
}

// validID reports whether id can be a session ID: non-empty, free of the
// ':' that separates the cluster's other key spaces (user indexes, locks,
// revocation journals) from session keys, and not one of the cluster's own
// records (reservedMark).
func validID(id string) bool { return keyspace.ValidID(id) }
