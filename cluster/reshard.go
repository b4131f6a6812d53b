package cluster

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardsession/shardsession/shard"
)

// Phase is the stage of a topology change a cluster routes by. The phases
// exist so that web nodes which switch at different moments stay correct:
// any two adjacent phases can run side by side (docs/architecture.md,
// "Topology change").
type Phase int

const (
	// PhaseStable routes by one ring.
	PhaseStable Phase = iota
	// PhaseDualRead keeps the previous ring authoritative: reads try the
	// previous owner, then the new one; creates and updates go to the
	// previous owner (updates fall back to the new one); deletes hit both.
	// Nothing moves. It lets nodes still on the old ring coexist with nodes
	// that already move keys.
	PhaseDualRead
	// PhaseMigrate makes the new ring authoritative: reads try the new owner
	// and on a miss move the key from the previous owner; updates move the
	// key first; creates go to the new owner; deletes hit both. The
	// migrator runs in this phase.
	PhaseMigrate
)

func (p Phase) String() string {
	switch p {
	case PhaseStable:
		return "stable"
	case PhaseDualRead:
		return "dual-read"
	case PhaseMigrate:
		return "migrate"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// retireGrace is how long the clients of a shard that left the topology stay
// open, so that requests that routed by an older snapshot can finish.
const retireGrace = time.Minute

// moveState is the part of a snapshot that describes the topology: the options it
// was built from and, while a change runs, the ring being left.
type moveState struct {
	opts  []shard.Options
	ring  RingOptions
	epoch int64
	phase Phase
	mover Mover     // how keys move (mover.go); MoverMigrate when stable
	prev  *snapshot // nil when stable
	// followed is set while a Follower keeps the cluster on the fleet's
	// topology: requests then check its lease.
	followed bool
	// slow sends requests through the checks of moving.go: prev != nil ||
	// followed.
	slow bool
}

// reshardState is the Cluster's state for changing topology. mu serialises
// changes; routing never takes it.
type reshardState struct {
	mu         sync.Mutex
	retired    map[*shard.Shard]*time.Timer
	closed     bool
	followed   bool         // a Follower runs (guarded by mu)
	leaseUntil atomic.Int64 // unix ns; see FollowOptions.Lease
}

// watch turns the lease check on or off.
func (c *Cluster) watch(on bool) {
	c.reshard.mu.Lock()
	defer c.reshard.mu.Unlock()
	c.reshard.followed = on
	next := *c.snap.Load()
	next.move.followed = on
	next.move.slow = next.move.prev != nil || on
	c.snap.Store(&next)
}

// checkLease fails when a Follower runs and has not read the topology
// record for longer than its lease.
func (c *Cluster) checkLease(s *snapshot) error {
	if s.move.followed && time.Now().UnixNano() > c.reshard.leaseUntil.Load() {
		return fmt.Errorf("%w: this node has not read the fleet's topology for longer than its lease", ErrStaleTopology)
	}
	return nil
}

// SetShards changes the cluster's shards. It connects to (and pings) the new
// shards, then atomically switches routing to a ring over shards while
// keeping the current ring as the previous one, in PhaseMigrate: from then on
// no session is lost — a session not yet moved is read from (and moved off)
// its previous owner. Run Migrate to move the rest and drop the previous
// ring.
//
// SetShards is for a cluster that is the only router of its sessions (one
// process). A fleet of web nodes changes topology with Reshard, which walks
// every node through the phases.
//
// Shards are matched by name: a shard kept keeps its clients; a shard whose
// name stays but whose address changes is rejected (the name is its place
// on the ring). The ring keeps its partition count, so only the keys of the
// partitions that change owner move.
func (c *Cluster) SetShards(ctx context.Context, shards []shard.Options) error {
	t := c.Topology()
	if t.Phase != PhaseStable {
		return ErrMigrating
	}
	next := t.next(shards, PhaseMigrate)
	return c.apply(ctx, &next, true)
}

// AddShard adds one shard (see SetShards).
func (c *Cluster) AddShard(ctx context.Context, so shard.Options) error {
	return c.SetShards(ctx, append(slices.Clone(c.Topology().Shards), so))
}

// RemoveShard removes the shard named name (see SetShards). The shard stays
// readable as a previous owner until Migrate has drained it.
func (c *Cluster) RemoveShard(ctx context.Context, name string) error {
	next, err := without(c.Topology().Shards, name)
	if err != nil {
		return err
	}
	return c.SetShards(ctx, next)
}

// ReplaceShard replaces the shard named old by so: so is added, old is
// drained by Migrate and then removed.
func (c *Cluster) ReplaceShard(ctx context.Context, old string, so shard.Options) error {
	next, err := without(c.Topology().Shards, old)
	if err != nil {
		return err
	}
	return c.SetShards(ctx, append(next, so))
}

func without(shards []shard.Options, name string) ([]shard.Options, error) {
	i := slices.IndexFunc(shards, func(so shard.Options) bool { return so.Name == name })
	if i < 0 {
		return nil, fmt.Errorf("%w: no shard %q", ErrBadOptions, name)
	}
	return slices.Delete(slices.Clone(shards), i, i+1), nil
}

// Topology returns the topology the cluster routes by.
func (c *Cluster) Topology() Topology {
	s := c.snap.Load()
	t := Topology{Epoch: s.move.epoch, Phase: s.move.phase, Shards: s.move.opts, Ring: s.move.ring}
	if s.move.prev != nil {
		t.Prev, t.PrevRing, t.Mover = s.move.prev.move.opts, s.move.prev.move.ring, s.move.mover
	}
	return t
}

// Apply makes the cluster route by t.
//
// Advanced: applications change topology with Reshard (or AddShard,
// RemoveShard, ReplaceShard, then Migrate) and follow a fleet's changes with
// Follow; Apply is the step they all take, for tools that drive a change
// phase by phase. It is what SetShards, Migrate and a fleet's topology
// watcher use; it builds the new snapshot (reusing the
// clients of shards it already has, connecting and pinging new ones) and
// publishes it atomically. Applying an epoch and phase older than the
// current ones is refused; applying the same ones again is a no-op.
func (c *Cluster) Apply(ctx context.Context, t Topology) error { return c.apply(ctx, &t, false) }

// apply is Apply; with probe, a change that starts (the cluster is stable,
// t is not) is refused with ErrCannotMove unless the shards that would
// hand keys over can move them to their new owners (probeMoves), and
// t.Mover is set to the mover that works. The initiator of a change probes
// (SetShards, Reshard) and records the mover for the fleet; the nodes that
// follow it take the mover from the record.
func (c *Cluster) apply(ctx context.Context, t *Topology, probe bool) error {
	c.reshard.mu.Lock()
	defer c.reshard.mu.Unlock()
	cur := c.snap.Load()
	switch {
	case t.stage() < cur.move.stage():
		return fmt.Errorf("%w: topology epoch %d phase %s is older than the current epoch %d phase %s", ErrStaleTopology, t.Epoch, t.Phase, cur.move.epoch, cur.move.phase)
	case t.stage() == cur.move.stage():
		return nil
	}
	if t.Phase != PhaseStable && len(t.Prev) == 0 {
		return fmt.Errorf("%w: phase %s without a previous ring", ErrBadOptions, t.Phase)
	}
	t.Ring.initFor(len(t.Shards))
	t.PrevRing.initFor(len(t.Prev))
	have := cur.byName()
	var opened []*shard.Shard
	build := func(opts []shard.Options, ring RingOptions) (*snapshot, error) {
		s, fresh, err := buildSnapshot(c.defaults.inherit(opts), ring, have)
		opened = append(opened, fresh...)
		for i, sh := range fresh {
			have[sh.Name()] = held{sh, opts[i]}
		}
		return s, err
	}
	next, err := build(t.Shards, t.Ring)
	if err == nil && t.Phase != PhaseStable {
		next.move.prev, err = build(t.Prev, t.PrevRing)
	}
	for _, sh := range opened {
		if err != nil {
			break
		}
		err = sh.Ping(ctx)
	}
	if err == nil && probe && cur.move.prev == nil && next.move.prev != nil {
		t.Mover, err = c.probeMoves(ctx, next.move.prev, next)
	}
	if err != nil {
		closeAll(opened)
		return err
	}
	next.move.epoch, next.move.phase = t.Epoch, t.Phase
	if t.Phase != PhaseStable {
		next.move.mover = t.Mover
	}
	next.move.followed = c.reshard.followed
	next.move.slow = next.move.prev != nil || next.move.followed
	if next.move.prev != nil {
		next.move.prev.move.epoch = t.Epoch
	}
	c.snap.Store(next)
	c.followFailovers(opened)
	c.retireLocked(cur, next)
	return nil
}

// stage orders (epoch, phase) pairs: a change goes stable → dual-read →
// migrate → stable of the next epoch.
func (m *moveState) stage() int64 { return stage(m.epoch, m.phase) }

func stage(epoch int64, p Phase) int64 {
	if p == PhaseStable {
		return 4*epoch + 3
	}
	return 4*epoch + int64(p)
}

// held is a shard client and the options it was made from.
type held struct {
	sh  *shard.Shard
	opt shard.Options
}

// byName returns every shard of s and of its previous ring by name.
func (s *snapshot) byName() map[string]held {
	m := map[string]held{}
	for _, r := range []*snapshot{s, s.move.prev} {
		if r == nil {
			continue
		}
		for i, sh := range r.shards {
			m[r.move.opts[i].Name] = held{sh, r.move.opts[i]}
		}
	}
	return m
}

// buildSnapshot builds the ring over opts, reusing the shards in have and
// creating the others (returned in fresh, which the caller owns even on
// error).
func buildSnapshot(opts []shard.Options, ring RingOptions, have map[string]held) (s *snapshot, fresh []*shard.Shard, err error) {
	names := make([]string, len(opts))
	for i, so := range opts {
		names[i] = so.Name
	}
	owners, err := partitionOwners(names, ring)
	if err != nil {
		return nil, nil, err
	}
	s = &snapshot{owners: owners, move: moveState{opts: opts, ring: ring}}
	seen := map[string]bool{}
	for _, so := range opts {
		if seen[so.Name] {
			return nil, fresh, fmt.Errorf("%w: shard name %q used twice", ErrBadOptions, so.Name)
		}
		seen[so.Name] = true
		if h, ok := have[so.Name]; ok {
			if so.Addr != h.opt.Addr {
				return nil, fresh, fmt.Errorf("%w: shard %s moves from %s to %s: a shard's name is its place on the ring; replace it with a new name", ErrBadOptions, so.Name, h.opt.Addr, so.Addr)
			}
			s.shards = append(s.shards, h.sh)
			continue
		}
		sh, err := newShard(so)
		if err != nil {
			return nil, fresh, err
		}
		fresh = append(fresh, sh)
		s.shards = append(s.shards, sh)
	}
	return s, fresh, nil
}

// retireLocked closes, after a grace period, the shards of old that next no
// longer uses.
func (c *Cluster) retireLocked(old, next *snapshot) {
	keep := next.byName()
	for name, h := range old.byName() {
		sh := h.sh
		if keep[name].sh == sh {
			continue
		}
		if c.reshard.retired == nil {
			c.reshard.retired = map[*shard.Shard]*time.Timer{}
		}
		c.reshard.retired[sh] = time.AfterFunc(retireGrace, func() {
			c.reshard.mu.Lock()
			defer c.reshard.mu.Unlock()
			if _, ok := c.reshard.retired[sh]; ok && !c.reshard.closed {
				delete(c.reshard.retired, sh)
				sh.Close()
			}
		})
	}
}

// closing returns every shard Close must close: those routed to and those
// retired but not closed yet.
func (c *Cluster) closing() []*shard.Shard {
	c.reshard.mu.Lock()
	defer c.reshard.mu.Unlock()
	c.reshard.closed = true
	var all []*shard.Shard
	for _, h := range c.snap.Load().byName() {
		all = append(all, h.sh)
	}
	for sh, t := range c.reshard.retired {
		t.Stop()
		all = append(all, sh)
	}
	c.reshard.retired = nil
	return all
}
