package shard

import (
	"fmt"

	"github.com/shardsession/shardsession/replica"
)

// watchReplicas completes a new shard with its read routing (a replica.Set
// over its clients), closing the shard if that fails.
func (s *Shard) watchReplicas(opt Options) (*Shard, error) {
	var reads *replica.Set
	var err error
	if s.finder != nil {
		reads, err = replica.NewDiscovering(s.primary, s.finder.discover, opt.Replica)
		s.readSet.Store(reads)
	} else {
		reads, err = replica.New(s.primary, s.replicas, opt.Replica)
		if err == nil {
			s.readSet.Store(reads) // for a switch seen behind the address (endpoint.go)
		}
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: shard %s: %w", ErrBadOptions, s.name, err)
	}
	s.reads = reads
	return s, nil
}

// Reads returns the shard's read routing: the policy, the replicas' health,
// and the choice of the node that serves a read (package replica).
func (s *Shard) Reads() *replica.Set { return s.reads }
