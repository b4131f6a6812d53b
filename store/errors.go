package store

import "errors"

// ErrNotFound is returned by Save for an Update or Touch of a record that no
// longer exists (it expired or was deleted meanwhile): the write is dropped
// rather than recreating a partial session.
var ErrNotFound = errors.New("shardsession: session not found")

// ErrExists is returned by Save when a record to be created already exists;
// nothing is written. With 256-bit random IDs it means a bug or an attack.
var ErrExists = errors.New("shardsession: session already exists")

// ErrConflict is returned by Save when Write.IfVersion is set and the record
// has been changed by another writer since that version; nothing is written.
var ErrConflict = errors.New("shardsession: session changed by another request")

// ErrNotReplicated is returned by Save, when the store was asked to wait for
// replicas (Redis WAIT), if fewer confirmed the write within the timeout.
// The write itself succeeded on the primary (Save returns its version) and
// will probably reach the replicas later; it is only not yet safe from a
// failover. The caller decides whether that is acceptable.
var ErrNotReplicated = errors.New("shardsession: write not confirmed by enough replicas")

// ErrUnavailable means the node that holds a record (or the one a command
// needed) could not be reached or refused to serve. Backends wrap it with
// the name of the shard or node; callers test for it with errors.Is. The
// operation may succeed when retried later: the data is not known to be
// gone.
var ErrUnavailable = errors.New("shardsession: shard unavailable")

// ErrCorrupt is returned by Load when a record cannot be a session (its key
// holds something other than a record, or a field the contract defines is
// malformed): the record is unusable, the node is fine. Delete removes it
// like any record.
var ErrCorrupt = errors.New("shardsession: stored session is corrupt")
