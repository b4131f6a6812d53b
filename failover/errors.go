package failover

import "errors"

// ErrBadOptions is wrapped by every validation error of this package.
var ErrBadOptions = errors.New("shardsession: bad failover options")

// ErrCircuitOpen is returned, without touching the network, for a command
// sent to a node whose breaker is open. Package shard classifies it as
// shard.ErrUnavailable.
var ErrCircuitOpen = errors.New("shardsession: circuit open")
