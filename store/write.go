package store

import "time"

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
