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

	// ID names the write: a Create or Update stores it in the record's
	// WriteField, so that a later Load can tell this write's record from
	// another one with the same version (LoadOptions.MinWrite), and a write
	// resent after a lost reply is recognised and not applied twice. A
	// Touch does not store it (the record's content does not change). It
	// must be 1 to 64 bytes of [0-9a-z]. Default "": the store picks a
	// random one.
	ID string

	// NotAfter, when set, is the latest time (by the Redis server's clock)
	// at which the write may still be applied: one that reaches the
	// primary later, such as a write queued on the socket of a primary
	// that was paused and has just resumed, is refused with an error
	// wrapping ErrUnavailable instead of being applied when its sender has
	// long given up. Default zero: no limit (package cluster sets one).
	NotAfter time.Time
}
