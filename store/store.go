package store

import (
	"context"
	"time"
)

// Store is where session records live. *cluster.Cluster implements it.
//
// Load reports absence as found == false with a nil error; err is for
// failures only, and wraps ErrUnavailable when the node that holds the
// record could not answer. opt carries what the caller knows of the record
// (the version of its last write, see LoadOptions); a store that reads only
// from primaries may ignore it. Save applies one atomic change and returns
// the record's new version; an Update of a record that is gone fails with
// ErrNotFound and writes nothing. Delete of a missing record is not an
// error.
type Store interface {
	Load(ctx context.Context, id string, opt LoadOptions) (fields map[string]string, found bool, err error)
	Save(ctx context.Context, id string, w Write) (version int64, err error)
	Delete(ctx context.Context, id string) error
}

// The optional capabilities of a Store, found by type assertion as in scs
// (CtxStore, IterableStore). *cluster.Cluster has all of them.

// Locator names the shard that holds a record (for logs, metrics and the
// demo).
type Locator interface {
	Locate(id string) string
}

// Iterable can enumerate every stored session.
type Iterable interface {
	Iterate(ctx context.Context, fn func(id string, fields map[string]string) error) error
}

// PrefixIterable enumerates the stored records whose ID starts with a
// prefix, whatever their form: the key space of an adapter (scs, gorilla),
// which Iterable leaves out.
type PrefixIterable interface {
	IteratePrefix(ctx context.Context, idPrefix string, fn func(id string, fields map[string]string) error) error
}

// UserIndex keeps, per user, the IDs of the user's sessions. UserSessions
// returns only sessions that still exist.
type UserIndex interface {
	IndexUser(ctx context.Context, user, id string, expireAt time.Time) error
	UnindexUser(ctx context.Context, user string, ids ...string) error
	UserSessions(ctx context.Context, user string) ([]string, error)
}

// UserFieldsIndex is a UserIndex that also reads the named fields of each
// of the user's sessions (not its values), for listing them. fields holds an
// entry per live ID, without the fields the record lacks.
type UserFieldsIndex interface {
	UserSessionFields(ctx context.Context, user string, names ...string) (ids []string, fields map[string]map[string]string, err error)
}

// CappedUserIndex is a UserIndex whose IndexUser keeps at most limit
// sessions (limit > 0) in the user's index, dropping those with the
// earliest deadlines, which it returns for the caller to end.
type CappedUserIndex interface {
	IndexUserCapped(ctx context.Context, user, id string, expireAt time.Time, limit int) (evicted []string, err error)
}

// Locker takes and frees a per-record lock held by owner for at most ttl.
type Locker interface {
	TryLock(ctx context.Context, id, owner string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, id, owner string) error
}

// EventPublisher publishes session events and delivers those of every node.
type EventPublisher interface {
	Publish(ctx context.Context, e Event) error
	Watch(ctx context.Context, fn func(Event), onErr func(error)) error
}

// Unwrapper is a Store that wraps another, such as a near cache in front of
// a backend. Capabilities about the records themselves (Iterable,
// UserIndex, Locker, EventPublisher) are looked for on the wrapped Store
// too, since they need no cache.
type Unwrapper interface {
	Unwrap() Store
}

// As finds capability T of s: s itself, or the Store it wraps (Unwrapper),
// and so on down.
func As[T any](s Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(Unwrapper)
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}
