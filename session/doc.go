// Package session is shardsession's public API: a Manager that loads a web
// request's session from Redis, lets handlers read and change it, and saves
// what changed, through net/http middleware (LoadAndSave) or by hand
// (Load and Commit).
//
// The Manager follows github.com/alexedwards/scs: a struct with plain
// exported fields and working defaults (New), values of any type kept per key
// (Get, Put, Pop, Remove, Keys), Destroy for logout and RenewToken for login.
// It sees storage through the small Store interface, which package cluster
// implements over many Redis shards; any single Redis works too.
//
// Each session is one Redis hash: a field per value (encoded by the Codec)
// plus created-at, last-seen and absolute-deadline fields. The key expires at
// the earlier of last-seen + IdleTimeout and the absolute deadline, so both
// timeouts hold even if no web node ever looks at the session again. The
// cookie carries a 256-bit random token; Redis keys hold a SHA-256 hash of
// it, so a dump of Redis does not hand out live sessions.
//
// Saves are deltas: only the values a request changed are written, so
// concurrent requests that change different keys never lose each other's
// writes. For the same key, Optimistic (compare-and-set on the record's
// version, with an optional Merge) or LoadAndSaveLocked (a per-session lock)
// turn a silent overwrite into ErrConflict or a wait. SetUser indexes a
// session under its user across shards (ListByUser, RevokeByUser);
// WatchEvents reports created, renewed, destroyed and expired sessions of
// every shard; Iterate visits them all. The optional Store capabilities these
// need (UserIndex, Locker, EventStore, IterableStore) are found by type
// assertion, as in scs. See docs/sessions.md and docs/security.md.
package session
