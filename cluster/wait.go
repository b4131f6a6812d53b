package cluster

import "errors"

// ErrNotReplicated is returned by Save, with Durability.SaveReplicas set,
// when fewer replicas than asked confirmed the write within the timeout
// (Redis WAIT). The write itself succeeded on the primary (Save returns its
// version) and will probably reach the replicas later; it is only not yet
// safe from a failover. The caller decides whether that is acceptable.
var ErrNotReplicated = errors.New("shardsession: write not confirmed by enough replicas")
