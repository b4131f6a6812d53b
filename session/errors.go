package session

import (
	"errors"

	"github.com/shardsession/shardsession/shard"
)

// ErrUnavailable means the shard holding a session could not serve it. The
// error carries the shard's name; the request may be retried. The session's
// data is not known to be lost, so it is never replaced by an empty one.
var ErrUnavailable = shard.ErrUnavailable

// ErrTooLarge is returned by Commit when the encoded session exceeds
// Manager.MaxSize; nothing is written.
var ErrTooLarge = errors.New("shardsession: session too large")

// ErrCorrupt means a stored session could not be decoded. The record is left
// as it is for inspection.
var ErrCorrupt = errors.New("shardsession: stored session is corrupt")
