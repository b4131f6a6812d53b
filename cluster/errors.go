package cluster

import (
	"errors"

	"github.com/shardsession/shardsession/internal/nearcache"
)

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad cluster options")

// ErrMigrating is returned by SetShards and its helpers while a previous
// topology change has not finished migrating.
var ErrMigrating = errors.New("shardsession: a topology change is still migrating")

// ErrStaleTopology is returned when a topology older than the one in use is
// applied or published.
var ErrStaleTopology = errors.New("shardsession: stale topology")

// ErrNotMigrating is returned by Migrate when the cluster is in no phase
// that moves keys (PhaseDualRead: some nodes may still write to the previous
// ring).
var ErrNotMigrating = errors.New("shardsession: no migration to run in this phase")

// ErrNearCacheClosed is returned by Ready after Close.
var ErrNearCacheClosed = nearcache.ErrClosed

// ErrCannotMove is returned by SetShards, AddShard, RemoveShard,
// ReplaceShard and Reshard, before any routing changes, when a shard that
// would hand keys over can move them to the shard that would take them
// neither with MIGRATE (refused by managed Redis services, an ACL, or the
// servers cannot reach each other) nor with the copy mover's scripts
// (EVAL refused too, or a server cannot be written).
var ErrCannotMove = errors.New("shardsession: the shards cannot move keys between them")

// ErrMoveStalled is returned by a request or the migrator when a key stayed
// marked as being moved by another node (MoverCopy) for longer than the
// waits allow: that node keeps taking the move over without finishing it.
var ErrMoveStalled = errors.New("shardsession: a key's move did not finish")
