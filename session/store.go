package session

import (
	"context"

	"github.com/shardsession/shardsession/cluster"
)

// Store is where session records live. *cluster.Cluster implements it.
//
// Load reports absence as found == false with a nil error; err is for
// failures only. opt carries what the caller knows of the record (the
// version of its last write, see cluster.LoadOptions); a store that reads
// only from primaries may ignore it. Save applies one atomic change and returns the record's new
// version; an Update of a record that is gone fails with cluster.ErrNotFound
// and writes nothing. Delete of a missing record is not an error.
type Store interface {
	Load(ctx context.Context, id string, opt cluster.LoadOptions) (fields map[string]string, found bool, err error)
	Save(ctx context.Context, id string, w cluster.Write) (version int64, err error)
	Delete(ctx context.Context, id string) error
}

// Locator is an optional Store capability: the name of the shard that holds
// a session (for logs, metrics and the demo).
type Locator interface {
	Locate(id string) string
}
