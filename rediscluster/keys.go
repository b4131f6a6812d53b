package rediscluster

import "github.com/shardsession/shardsession/internal/keyspace"

// Every Redis key and channel a Cluster uses, in one place. All keys start
// with Options.KeyPrefix (P below), as in package cluster, so the two
// backends lay sessions out alike.
//
//	key / channel             type     TTL                 slot of          hash tag
//	P<id>                     hash     session's expiry    the key          none
//	P lock:<id>               string   lock's ttl          the key          none
//	P user:<user>             zset     its last member's   the key          none
//	P revoked:{<tag>}         zset     RevocationTTL       the tag's        journalTags
//	P events                  channel  —                   (broadcast)      —
//	__keyevent@0__:expired    channel  —                   (node-local)     —
//
// Only the revocation journal's keys need a hash tag, and for the opposite
// of the usual reason: not to put keys together, but to put the journal
// of a delete on a slot owned by another master than the session's (a
// witness that fails independently, revoke.go). Its sixteen keys are
// P revoked:{rj<n>}, tags chosen so that each falls in its own sixteenth
// of the slot space (journalTags); a delete that fewer replicas confirmed
// goes to the first of them whose master is not the session's. Hence
// KeyPrefix must not hold a hash tag ('{…}') itself: it would pin every key,
// sessions and journals, to one slot.
//
// No other key needs a hash tag: every other command and every Lua script
// touches one key (the save script, the user-index script and the unlock
// script each take KEYS[1] only), and a user's index holds session IDs as
// plain members, not as keys, so the sessions it lists may live in any
// slot. A lock need not share its session's slot either: it is taken and
// freed on its own.
//
// Channels: PUBLISH on any node of a Redis Cluster reaches subscribers on
// every node, so the events channel is subscribed once (on the master of
// its channel's slot); expired-key notifications stay on the node where the
// key expired, so the expired channel is subscribed on every master.
//
// Session IDs never contain ':' (keyspace.ValidID), so no session key can
// be taken for a lock or an index.

// The marks that start the ID part of the keys that are not sessions, as
// in package cluster.
const (
	lockMark    = "lock:"
	userMark    = "user:"
	revokedMark = "revoked:"
)

// Key returns the Redis key of the session id.
func (c *Cluster) Key(id string) string { return c.prefix + id }

// lockKey is the key of session id's lock.
func (c *Cluster) lockKey(id string) string { return c.prefix + lockMark + id }

// userKey is the key of user's index.
func (c *Cluster) userKey(user string) string { return c.prefix + userMark + user }

// journalKey is the key of the i-th revocation journal (revoke.go).
func (c *Cluster) journalKey(i int) string {
	return c.prefix + revokedMark + "{" + journalTags[i] + "}"
}

// eventChannel is the Pub/Sub channel where writers announce created,
// renewed and destroyed sessions.
func (c *Cluster) eventChannel() string { return c.prefix + "events" }

// expiredChannel is where each node announces its expired keys.
const expiredChannel = keyspace.ExpiredChannel
