package session

import (
	"errors"

	"github.com/shardsession/shardsession/store"
)

// ErrUnavailable means the shard holding a session could not serve it. The
// error carries the shard's name; the request may be retried. The session's
// data is not known to be lost, so it is never replaced by an empty one.
var ErrUnavailable = store.ErrUnavailable

// ErrNotReplicated is returned by Commit when the Store saved the session
// on its shard's primary but fewer replicas than
// cluster.Durability.SaveReplicas confirmed it in time: the session is
// there, it is only not yet safe from a failover. LoadAndSave still sets the
// cookie, then answers through ErrorFunc (default 503), which may instead
// decide the save is good enough.
var ErrNotReplicated = store.ErrNotReplicated

// ErrTooLarge is returned by Commit when the encoded session exceeds
// Manager.MaxSize, holds more than Manager.MaxFields values, or belongs to a
// user ID (SetUser) longer than 512 bytes; nothing is written.
var ErrTooLarge = errors.New("shardsession: session too large")

// ErrBadValue is returned by Commit when a value cannot be stored: the
// Codec fails to encode it, or encodes it into something it would refuse to
// decode (JSON or MessagePack nested deeper than their decoders allow), which
// would make the session unreadable. Nothing is written.
var ErrBadValue = errors.New("shardsession: session value cannot be stored")

// ErrCorrupt means a stored session could not be decoded, or its key is
// not a hash. Load logs it and serves a new, empty session instead; the
// record is left as it is for inspection until that session's first save
// or a Destroy deletes it.
var ErrCorrupt = store.ErrCorrupt

// ErrConflict is returned by Commit under Manager.Optimistic when another
// request saved the session after this one loaded it (and Merge, if set,
// did not resolve it); nothing is written. The default ErrorFunc answers
// 409 Conflict.
var ErrConflict = store.ErrConflict

// ErrReadOnly is returned by Commit and Destroy of a read-only session that
// was changed: one whose lock could not be taken in time (ErrLocked) or that
// FailOpen served while its shard was unavailable. The error also wraps
// that cause. Nothing is written.
var ErrReadOnly = errors.New("shardsession: session is read-only")

// ErrLocked means the session's lock (LoadAndSaveLocked) was held by
// another request for longer than Manager.Lock.Wait.
var ErrLocked = errors.New("shardsession: session locked by another request")

// ErrNotSupported means the Store lacks the optional capability a Manager
// method needs (see IterableStore, UserIndex, Locker, EventStore).
var ErrNotSupported = errors.New("shardsession: not supported by this store")

// ErrBadKey means one of Manager.SigningKeys is shorter than 32 bytes: the
// Manager's configuration check fails (see ErrBadConfig).
var ErrBadKey = errors.New("shardsession: session signing key shorter than 32 bytes")

// ErrBadConfig is wrapped by every configuration error of a Manager.
var ErrBadConfig = errors.New("shardsession: bad session.Manager configuration")
