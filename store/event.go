package store

// EventKind says what happened to a session.
type EventKind string

// The kinds of Event.
const (
	// Created: a new session was saved for the first time.
	Created EventKind = "created"
	// Renewed: a session got a new ID (RenewToken); OldID is the one it
	// replaced.
	Renewed EventKind = "renewed"
	// Destroyed: a session was deleted by Destroy or a revocation.
	Destroyed EventKind = "destroyed"
	// Expired: Redis expired the session's key (idle or absolute timeout).
	Expired EventKind = "expired"
)

// Event is one change to a session, observed on the shard that holds it.
// IDs are store IDs (hashes of tokens), never tokens: they name sessions in
// lists and logs without being usable as tokens.
type Event struct {
	Kind  EventKind
	ID    string
	OldID string // Renewed only
	Shard string
}
