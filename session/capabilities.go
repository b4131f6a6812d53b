package session

import "github.com/shardsession/shardsession/store"

// The optional capabilities of a Store, found by type assertion as in scs
// (CtxStore, IterableStore). *cluster.Cluster has all of them; a Store that
// lacks one makes the Manager methods that need it fail with
// ErrNotSupported.

// IterableStore can enumerate every stored session (Manager.Iterate).
type IterableStore = store.Iterable

// UserIndex keeps, per user, the IDs of the user's sessions
// (Manager.SetUser, ListByUser, RevokeByUser). UserSessions returns only
// sessions that still exist.
type UserIndex = store.UserIndex

// Locker takes and frees a per-session lock held by owner for at most ttl
// (Manager.LoadAndSaveLocked).
type Locker = store.Locker

// EventStore publishes session events and delivers those of every node
// (Manager.PublishEvents, WatchEvents).
type EventStore = store.EventPublisher

// Event is a change to some session, seen on the shard that holds it. Its
// IDs are store IDs (hashes of tokens): they name sessions in ListByUser and
// logs without being usable as tokens.
type Event = store.Event

// EventKind says what happened to a session.
type EventKind = store.EventKind

// The kinds of Event.
const (
	EventCreated   = store.Created
	EventRenewed   = store.Renewed
	EventDestroyed = store.Destroyed
	EventExpired   = store.Expired
)

// storeAs finds capability T of s: s itself, or the Store it wraps
// (store.Unwrapper, such as cluster.NearCache), since those capabilities are
// about the records in Redis and need no cache.
func storeAs[T any](s Store) (T, bool) { return store.As[T](s) }
