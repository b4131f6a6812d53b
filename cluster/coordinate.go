package cluster

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/shardsession/shardsession/shard"
)

// ReshardOptions tune Reshard. The zero value works.
type ReshardOptions struct {
	// Migrate tunes the migrator.
	Migrate MigrateOptions
	// Poll is how often the acknowledgements of the nodes are checked.
	// Default 100 ms.
	Poll time.Duration
	// Settle bounds the wait for every live node to acknowledge a phase.
	// Default 2 minutes. On timeout Reshard fails, leaving the fleet in a
	// correct phase: run it again (same shards) to carry on.
	Settle time.Duration
	// OnPhase, if set, is called when every live node routes by a phase.
	OnPhase func(t Topology, nodes int)
}

func (o *ReshardOptions) init() {
	if o.Poll <= 0 {
		o.Poll = 100 * time.Millisecond
	}
	if o.Settle <= 0 {
		o.Settle = 2 * time.Minute
	}
}

// Reshard changes the topology of a fleet of web nodes, each of which runs
// Follow, from the one in the stored record (or c's own, if none is stored)
// to shards, without losing a session while nodes switch at different
// moments. It walks the fleet through the phases, waiting at each for every
// live node to acknowledge it:
//
//  1. PhaseDualRead: nodes read the old owner then the new one, and keep
//     writing to the old owner; nothing moves yet.
//  2. PhaseMigrate: nodes read and write the new owner, moving keys from
//     the old one on demand; c runs the migrator.
//  3. PhaseStable: the previous ring is dropped; removed shards hold no
//     session and may be shut down once this returns.
//
// Adjacent phases are compatible (docs/architecture.md), so a node one phase
// behind the others never loses or resurrects a session. A Reshard
// interrupted at any point leaves the fleet in a correct phase; run it again
// with the same shards to finish. Only one Reshard may run at a time.
// Before the fleet leaves a stable topology, Reshard checks that every
// shard that would hand keys over can move them to its new owner, with
// MIGRATE or else with the copy mover (Topology.Mover, recorded for the
// whole fleet), and fails with ErrCannotMove, changing nothing, if one
// cannot.
func (c *Cluster) Reshard(ctx context.Context, shards []shard.Options, opt ReshardOptions) (Progress, error) {
	opt.init()
	cur, err := c.fleetTopology(ctx)
	if err != nil {
		return Progress{}, err
	}
	if err := c.Apply(ctx, cur); err != nil {
		return Progress{}, err
	}
	t := cur
	switch {
	case cur.Phase == PhaseStable:
		t = cur.next(shards, PhaseDualRead)
	case !sameShards(cur.Shards, shards):
		return Progress{Epoch: cur.Epoch}, fmt.Errorf("%w: epoch %d (to %d shards) is in phase %s; finish it first", ErrMigrating, cur.Epoch, len(cur.Shards), cur.Phase)
	}
	for _, p := range []Phase{PhaseDualRead, PhaseMigrate} {
		if t.Phase > p {
			continue
		}
		t.Phase = p
		if err := c.advance(ctx, &t, opt); err != nil {
			return Progress{Epoch: t.Epoch}, err
		}
	}
	union := c.snap.Load().union()
	prog, err := c.Migrate(ctx, opt.Migrate)
	if err != nil {
		return prog, err
	}
	t.Phase, t.Prev, t.PrevRing, t.Mover = PhaseStable, nil, RingOptions{}, MoverMigrate
	if err := c.publish(ctx, union, t); err != nil {
		return prog, err
	}
	return prog, c.settle(ctx, union, t, opt)
}

// fleetTopology returns the latest record stored on c's shards, or c's own
// topology if there is none.
func (c *Cluster) fleetTopology(ctx context.Context) (Topology, error) {
	s := c.snap.Load()
	best, found := record{}, false
	for _, sh := range s.union() {
		r, ok, err := c.readRecord(ctx, sh)
		if err != nil {
			return Topology{}, err
		}
		if ok && (!found || stage(r.Epoch, r.Phase) > stage(best.Epoch, best.Phase)) {
			best, found = r, true
		}
	}
	if !found || stage(best.Epoch, best.Phase) < s.move.stage() {
		return c.Topology(), nil
	}
	return best.topology(s.byName(), s.move.opts[0]), nil
}

// advance publishes t to every shard of both rings, applies it to c and
// waits for every live node to acknowledge it. The first stage of a change
// sets t.Mover (apply's probe), which the record then carries to the fleet.
func (c *Cluster) advance(ctx context.Context, t *Topology, opt ReshardOptions) error {
	// Apply first: it connects to new shards, which publish needs, and
	// refuses to start a change whose keys cannot move.
	if err := c.apply(ctx, t, true); err != nil {
		return err
	}
	union := c.snap.Load().union()
	if err := c.publish(ctx, union, *t); err != nil {
		return err
	}
	return c.settle(ctx, union, *t, opt)
}

// settle waits until every node with a live acknowledgement on shards has
// acknowledged t's stage or a later one.
func (c *Cluster) settle(ctx context.Context, shards []*shard.Shard, t Topology, opt ReshardOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opt.Settle)
	defer cancel()
	want := t.stage()
	for {
		acks, err := c.acks(ctx, shards)
		if err != nil {
			return err
		}
		var behind []string
		for node, st := range acks {
			if st < want {
				behind = append(behind, node)
			}
		}
		if len(behind) == 0 {
			if opt.OnPhase != nil {
				opt.OnPhase(t, len(acks))
			}
			return nil
		}
		if err := sleepUntil(ctx, time.Now().Add(opt.Poll)); err != nil {
			slices.Sort(behind)
			return fmt.Errorf("shardsession: epoch %d phase %s: nodes %v did not acknowledge: %w", t.Epoch, t.Phase, behind, err)
		}
	}
}

// union returns the shards of s and of its previous ring, each once.
func (s *snapshot) union() []*shard.Shard {
	out := slices.Clone(s.shards)
	if s.move.prev != nil {
		for _, sh := range s.move.prev.shards {
			if !slices.Contains(out, sh) {
				out = append(out, sh)
			}
		}
	}
	return out
}

func sameShards(a, b []shard.Options) bool {
	return slices.EqualFunc(a, b, func(x, y shard.Options) bool { return x.Name == y.Name && x.Addr == y.Addr })
}

// FleetTopology returns the topology the fleet routes by: the latest record
// stored on the cluster's shards, or the cluster's own topology if none is
// stored (no Reshard ran yet).
func (c *Cluster) FleetTopology(ctx context.Context) (Topology, error) {
	return c.fleetTopology(ctx)
}
