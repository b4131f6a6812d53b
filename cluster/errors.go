package cluster

import "errors"

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
var ErrNearCacheClosed = errors.New("shardsession: near cache closed")
