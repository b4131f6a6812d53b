package cluster

import (
	"github.com/shardsession/shardsession/shard"
)

// Topology is what a cluster routes by: its shards and ring and, during a
// change, the shards and ring being left and the phase of the change. It is
// what a fleet's nodes agree on through the record stored in Redis (see
// Reshard and Follow).
type Topology struct {
	// Epoch counts topology changes; each change gets the next epoch.
	Epoch int64
	// Phase is the stage of the change of this epoch; PhaseStable once
	// it is over (or before any).
	Phase Phase
	// Shards and Ring make the ring being moved to (the only ring when
	// stable).
	Shards []shard.Options
	Ring   RingOptions
	// Prev and PrevRing make the ring being left; empty when stable.
	Prev     []shard.Options
	PrevRing RingOptions
	// Mover is how the change of this epoch moves keys, picked when it
	// starts: MoverMigrate where the servers allow MIGRATE, MoverCopy
	// where they refuse it (managed Redis services). MoverMigrate when
	// stable.
	Mover Mover
}

// next returns the topology that starts a change from t (which must be
// stable) to shards, in phase p. The ring keeps its options, so that only
// the partitions whose owner changes move, unless they cannot fit the new
// number of shards: then the ring is rebuilt with the defaults for that
// number (and most keys move).
func (t Topology) next(shards []shard.Options, p Phase) Topology {
	ring := t.Ring
	if ring.validate(len(shards)) != nil {
		ring = RingOptions{}
	}
	return Topology{Epoch: t.Epoch + 1, Phase: p, Shards: shards, Ring: ring, Prev: t.Shards, PrevRing: t.Ring}
}

func (t Topology) stage() int64 { return stage(t.Epoch, t.Phase) }
