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

// ErrCannotMove is returned by SetShards, AddShard, RemoveShard,
// ReplaceShard and Reshard, before any routing changes, when a shard that
// would hand keys over cannot MIGRATE to the shard that would take them: the
// server refuses the command (renamed away, as managed Redis services do;
// an ACL without it) or cannot reach the other one.
var ErrCannotMove = errors.New("shardsession: the shards cannot move keys between them")
