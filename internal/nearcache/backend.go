package nearcache

import (
	"context"

	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/store"
)

// Backend is the store a Cache is in front of: it knows which server holds
// a session now, and reads and writes it the ordinary way when the cache
// cannot.
type Backend interface {
	// Key is the Redis key of the session id.
	Key(id string) string

	// Stream returns the invalidation stream of the server that holds id
	// now (Cache.Stream makes it), or nil when id is to be read and
	// written through the backend, uncached: the backend is between two
	// topologies, say. write asks for a stream to send a save on: nil too
	// when the backend's saves need more than the save script (a WAIT).
	Stream(ctx context.Context, id string, write bool) *tracking.Stream

	// Load, Save and Delete go through the backend, uncached.
	Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error)
	Save(ctx context.Context, id string, w store.Write) (int64, error)
	Delete(ctx context.Context, id string) error

	// Bound returns w as Save would write it (a backend may set its
	// NotAfter), for the save script sent on a stream.
	Bound(w store.Write) store.Write
	// LoadScript loads the save script on the server id's stream talks
	// to, after it answered NOSCRIPT.
	LoadScript(ctx context.Context, id string) error
	// SaveFailed classifies an error reply to the save script of id sent
	// on its stream: resend when the script did not run and the save is to
	// go through Save (a slot that has moved), else the error to return.
	SaveFailed(id string, err error) (resend bool, _ error)
	// SaveReply turns the save script's reply on id's server into the
	// record's version, or the error its negative codes stand for.
	SaveReply(id string, reply int64) (int64, error)
}
