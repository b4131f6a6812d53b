package cluster

import (
	"errors"
	"time"
)

// ErrNotFound is returned by Save for an update or touch of a record that no
// longer exists (it expired or was deleted meanwhile): the write is dropped
// rather than recreating a partial session.
var ErrNotFound = errors.New("shardsession: session not found")

// ErrExists is returned by Save when a record to be created already exists;
// nothing is written. With 256-bit random IDs it means a bug or an attack.
var ErrExists = errors.New("shardsession: session already exists")

// ErrConflict is returned by Save when Write.IfVersion is set and the record
// has been changed by another writer since that version; nothing is written.
var ErrConflict = errors.New("shardsession: session changed by another request")

// WriteMode says what a Write may do to the stored record.
type WriteMode int

const (
	// Update changes an existing record and bumps its version; it fails with
	// ErrNotFound if the record is gone.
	Update WriteMode = iota
	// Create makes a new record; it fails with ErrExists if one is there.
	Create
	// Touch is an Update that does not bump the version: it only refreshes
	// bookkeeping fields and the expiry.
	Touch
)

// Write is one change to a stored session record: fields to delete, fields to
// set and the new absolute expiry, applied atomically.
type Write struct {
	Mode     WriteMode
	Set      map[string][]byte
	Del      []string
	ExpireAt time.Time

	// IfVersion, when not 0, makes an Update or Touch compare-and-set: it
	// is applied only if the record's version is still IfVersion, and
	// fails with ErrConflict otherwise. Create ignores it.
	IfVersion int64
}
