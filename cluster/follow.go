package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shardsession/shardsession/internal/jitter"
	"github.com/shardsession/shardsession/shard"
)

// FollowOptions tune Follow. The zero value works.
type FollowOptions struct {
	// Node identifies this web node to the coordinator; it must be unique
	// in the fleet. Default: hostname, process ID and a counter.
	Node string
	// Interval is how often the topology record is polled while a change
	// of topology is under way (a Reshard's phases, each of which waits
	// for every node). Every wait is shortened or lengthened by up to a
	// tenth at random so that a fleet's polls do not fall in step.
	// Default 1 s.
	Interval time.Duration
	// StableInterval is how often the record is polled while the topology
	// is stable, which is most of the time: the first phase of a Reshard
	// waits up to this long for every node to notice it, the later ones
	// Interval. It is what an idle node costs the shards, one poll per
	// StableInterval over all of them. Default 10 × Interval, kept between
	// Interval and Lease/3.
	StableInterval time.Duration
	// Lease is how long the node keeps serving without having read the
	// record. Past it every Load, Save, Delete and Exists fails with
	// ErrStaleTopology until a poll succeeds, because the coordinator
	// stops waiting for a node whose acknowledgement (kept for 2 × Lease)
	// expired, and moves on to a phase this node may not be compatible
	// with. So a node that dies during a Reshard holds it up for up to
	// 2 × Lease. Default 3 × StableInterval (30 s).
	Lease time.Duration
	// Template gives the client settings (timeouts, credentials, breaker...)
	// of shards that the record names and this node does not know yet; its
	// Name, Addr, Replicas and Sentinel addresses come from the record.
	// Default: the settings of the cluster's first shard.
	Template *shard.Options
	// OnError, if set, is called with every failed poll or apply.
	OnError func(error)
}

var nodeSeq atomic.Int64

func (o *FollowOptions) init(c *Cluster) {
	if o.Node == "" {
		host, _ := os.Hostname()
		o.Node = fmt.Sprintf("%s-%d-%d", host, os.Getpid(), nodeSeq.Add(1))
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.StableInterval <= 0 {
		o.StableInterval = 10 * o.Interval
	}
	if o.Lease <= 0 {
		o.Lease = 3 * o.StableInterval
	}
	o.StableInterval = max(o.Interval, min(o.StableInterval, o.Lease/3))
	if o.Template == nil {
		t := c.Topology().Shards[0]
		o.Template = &t
	}
}

// Follower keeps a cluster on the fleet's topology. Close stops it.
type Follower struct {
	c      *Cluster
	opt    FollowOptions
	cancel context.CancelFunc
	done   chan struct{}
	next   int // the shard polled first next time; every poll moves it on
	ackTo  int // the shard acknowledged on next time; every acknowledgement moves it on
	mu     sync.Mutex

	acked   int64     // the stage last acknowledged
	ackedAt time.Time // when; zero before the first acknowledgement
}

// Follow makes c follow the topology record that Reshard maintains: it
// polls the record now (and fails if no shard answers), applies it, and then
// keeps polling in the background (every StableInterval while the topology
// is stable, every Interval while it changes), acknowledging each stage
// it applies so that the coordinator knows when every live node has reached
// it. A web node of a fleet calls Follow once after New; from then on its
// routing follows topology changes without a restart. A cluster that no
// node follows the record for can still be resharded by SetShards alone.
func (c *Cluster) Follow(ctx context.Context, opt FollowOptions) (*Follower, error) {
	opt.init(c)
	f := &Follower{c: c, opt: opt, done: make(chan struct{})}
	c.reshard.leaseUntil.Store(time.Now().Add(opt.Lease).UnixNano())
	c.watch(true)
	if err := f.poll(ctx); err != nil {
		c.watch(false)
		return nil, err
	}
	ctx, f.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go f.run(ctx)
	return f, nil
}

// Node returns the ID the follower acknowledges as.
func (f *Follower) Node() string { return f.opt.Node }

// Close stops polling; the cluster keeps its current topology and stops
// enforcing the lease.
func (f *Follower) Close() error {
	f.cancel()
	<-f.done
	f.c.watch(false)
	return nil
}

func (f *Follower) run(ctx context.Context) {
	defer close(f.done)
	t := time.NewTimer(jitter.Around(f.interval()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, f.opt.Lease)
		err := f.poll(pctx)
		cancel()
		if err != nil && f.opt.OnError != nil && ctx.Err() == nil {
			f.opt.OnError(err)
		}
		t.Reset(jitter.Around(f.interval()))
	}
}

// interval is the wait before the next poll: StableInterval while the
// cluster routes by a stable topology, else Interval.
func (f *Follower) interval() time.Duration {
	if m := f.c.snap.Load().move; m.prev == nil && m.phase == PhaseStable {
		return f.opt.StableInterval
	}
	return f.opt.Interval
}

// poll reads the record from the first shard that answers, applies it if it
// is newer, and acknowledges the stage the cluster then routes by when it
// is new or the last acknowledgement is half a Lease old. A successful poll
// renews the lease. Polls and acknowledgements each go to the shards in
// turn, so that a fleet's load is spread over them.
func (f *Follower) poll(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.c
	s := c.snap.Load()
	shards := s.shards
	if s.move.prev != nil {
		shards = append(append([]*shard.Shard(nil), s.shards...), s.move.prev.shards...)
	}
	var errs []error
	for i := range shards {
		sh := shards[(f.next+i)%len(shards)]
		start := time.Now()
		r, ok, err := c.readRecord(ctx, sh)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		// The next poll starts on the next shard: a fleet's polls are
		// spread over the shards instead of all landing on one.
		f.next = (f.next + i + 1) % len(shards)
		if ok && stage(r.Epoch, r.Phase) > c.snap.Load().move.stage() {
			if err := c.Apply(ctx, r.topology(c.snap.Load().byName(), *f.opt.Template)); err != nil {
				return fmt.Errorf("apply topology epoch %d phase %s: %w", r.Epoch, r.Phase, err)
			}
		}
		// Acknowledge a new stage at once, and the same one every half
		// Lease: an acknowledgement holds for 2 × Lease, so while the
		// lease holds the last one has at least 1.5 × Lease to run, and
		// most polls cost one command, not two.
		if st := c.snap.Load().move.stage(); f.ackedAt.IsZero() || st != f.acked || start.Sub(f.ackedAt) >= f.opt.Lease/2 {
			if err := f.ack(ctx, shards, st); err != nil {
				return fmt.Errorf("shardsession: topology acknowledgement: %w", err)
			}
			f.acked, f.ackedAt = st, start
		}
		c.reshard.leaseUntil.Store(start.Add(f.opt.Lease).UnixNano())
		return nil
	}
	return fmt.Errorf("shardsession: topology poll: %w", errors.Join(errs...))
}

// ack acknowledges stage on the next shard in turn that answers. (On the
// shard just polled, a node that acknowledges every few polls would pick
// the same shard each time: with three shards and an acknowledgement every
// third poll, all of a fleet's acknowledgements would land on one.)
func (f *Follower) ack(ctx context.Context, shards []*shard.Shard, st int64) error {
	var errs []error
	for i := range shards {
		sh := shards[(f.ackTo+i)%len(shards)]
		if err := f.c.ack(ctx, sh, f.opt.Node, st, 2*f.opt.Lease); err != nil {
			errs = append(errs, err)
			continue
		}
		f.ackTo = (f.ackTo + i + 1) % len(shards)
		return nil
	}
	return errors.Join(errs...)
}
