package session

import (
	"context"
	"time"

	"github.com/shardsession/shardsession/cluster"
)

// The optional capabilities of a Store, found by type assertion as in scs
// (CtxStore, IterableStore). *cluster.Cluster has all of them; a Store that
// lacks one makes the Manager methods that need it fail with
// ErrNotSupported.

// IterableStore can enumerate every stored session (Manager.Iterate).
type IterableStore interface {
	Iterate(ctx context.Context, fn func(id string, fields map[string]string) error) error
}

// UserIndex keeps, per user, the IDs of the user's sessions
// (Manager.SetUser, ListByUser, RevokeByUser). UserSessions returns only
// sessions that still exist.
type UserIndex interface {
	IndexUser(ctx context.Context, user, id string, expireAt time.Time) error
	UnindexUser(ctx context.Context, user string, ids ...string) error
	UserSessions(ctx context.Context, user string) ([]string, error)
}

// Locker takes and frees a per-session lock held by owner for at most ttl
// (Manager.LoadAndSaveLocked).
type Locker interface {
	TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, id, owner string) error
}

// EventStore publishes session events and delivers those of every node
// (Manager.PublishEvents, WatchEvents).
type EventStore interface {
	Publish(ctx context.Context, e cluster.Event) error
	Watch(ctx context.Context, fn func(cluster.Event), onErr func(error)) error
}

// Event is a change to some session, seen on the shard that holds it. Its
// IDs are store IDs (hashes of tokens): they name sessions in ListByUser and
// logs without being usable as tokens.
type Event = cluster.Event

// EventKind says what happened to a session.
type EventKind = cluster.EventKind

// The kinds of Event.
const (
	EventCreated   = cluster.Created
	EventRenewed   = cluster.Renewed
	EventDestroyed = cluster.Destroyed
	EventExpired   = cluster.Expired
)

// storeAs finds capability T of s: s itself, or the Cluster behind a Store
// that wraps one (cluster.NearCache), since those capabilities are about the
// records in Redis and need no cache.
func storeAs[T any](s Store) (T, bool) {
	if t, ok := s.(T); ok {
		return t, true
	}
	if w, ok := s.(interface{ Cluster() *cluster.Cluster }); ok {
		t, ok := any(w.Cluster()).(T)
		return t, ok
	}
	var zero T
	return zero, false
}
