package rediscluster

import (
	"errors"

	"github.com/shardsession/shardsession/internal/nearcache"
)

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad redis cluster options")

// ErrNoWitness is wrapped by the error of a Delete that fewer replicas
// than Durability.DeleteReplicas confirmed when no master other than the
// session's serves a journal key's slot (revoke.go): with one master, or
// one that owns nearly every slot, the revocation journal has no witness.
var ErrNoWitness = errors.New("shardsession: no other master to journal the delete")

// ErrNearCacheClosed is returned by NearCache.Ready after Close.
var ErrNearCacheClosed = nearcache.ErrClosed
