package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// The acceptance tests of live topology change: two web nodes (two Cluster
// instances following the topology record, polling at very different
// rates, so they switch phases at different moments) serve a bounded load
// over 20,000 sessions while a third instance (the operator's CLI) reshards.

const (
	fleetSessions = 20000
	fleetWorkers  = 8 // per test; each owns the sessions i ≡ w (mod workers)
)

// sess is what a worker knows of one session: the test's oracle.
type sess struct {
	id      string
	value   int // latest value written; the record holds "v" = value
	deleted bool
	exp     time.Time
}

type fleet struct {
	t      *testing.T
	top    *redistest.Topology
	args   []string           // every server's redis-server arguments
	mover  cluster.Mover      // the mover a change must use
	nodes  []*cluster.Cluster // the web nodes
	op     *cluster.Cluster   // the operator's instance, running Reshard
	sess   []*sess
	ops    atomic.Int64
	nextID atomic.Int64
}

func newFleet(t *testing.T) *fleet { return newFleetOf(t, nil, cluster.MoverMigrate) }

// newFleetOf is newFleet on servers started with args, on which a change
// uses mover.
func newFleetOf(t *testing.T, args []string, mover cluster.Mover) *fleet {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Args: args})
	f := &fleet{t: t, top: top, args: args, mover: mover}
	ctx := context.Background()
	for i, interval := range []time.Duration{20 * time.Millisecond, 300 * time.Millisecond} {
		c := f.newCluster(f.shardOptions())
		fl, err := c.Follow(ctx, cluster.FollowOptions{Node: fmt.Sprint("web-", i), Interval: interval, Lease: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { fl.Close() })
		f.nodes = append(f.nodes, c)
	}
	f.op = f.newCluster(f.shardOptions())
	f.seed(ctx)
	return f
}

// patient are client settings for a machine shared by many test runs: long
// timeouts and no retry, since go-redis retries a command whose reply timed
// out, and a retried Create that had succeeded fails with ErrExists.
var patient = &redis.Options{DialTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second, MaxRetries: -1}

func (f *fleet) shardOptions() []shard.Options {
	opts := clustertest.ShardOptions(f.top)
	for i := range opts {
		opts[i].Client = patient
	}
	return opts
}

func (f *fleet) newCluster(shards []shard.Options) *cluster.Cluster {
	c, err := cluster.New(cluster.Options{Shards: shards})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { c.Close() })
	return c
}

func save(ctx context.Context, c *cluster.Cluster, s *sess, mode store.WriteMode) error {
	_, err := c.Save(ctx, s.id, store.Write{Mode: mode, Set: map[string][]byte{"v": []byte(strconv.Itoa(s.value))}, ExpireAt: s.exp})
	return err
}

// seed creates the sessions, each with its own expiry, concurrently.
func (f *fleet) seed(ctx context.Context) {
	base := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	f.sess = make([]*sess, fleetSessions)
	for i := range f.sess {
		f.sess[i] = &sess{id: fmt.Sprintf("seed-%05d", i), exp: base.Add(time.Duration(i%1800) * time.Second)}
	}
	f.parallel(func(w int) error {
		for i := w; i < len(f.sess); i += fleetWorkers {
			if err := save(ctx, f.nodes[0], f.sess[i], store.Create); err != nil {
				return err
			}
		}
		return nil
	})
}

func (f *fleet) parallel(fn func(w int) error) {
	var wg sync.WaitGroup
	errs := make([]error, fleetWorkers)
	for w := range fleetWorkers {
		wg.Go(func() { errs[w] = fn(w) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
}

// afterStop is how many operations each worker still runs once Reshard
// has returned, with every node on the new topology.
const afterStop = 64

// load runs the workers until stop is closed, and afterStop operations more. Each operation goes to a
// random web node: a read checks the worker's last write of that session
// (read-your-writes across nodes in different phases), an update or touch
// must find the session, a delete destroys it, and a create adds a new
// session. Sessions created during the change are appended per worker.
func (f *fleet) load(ctx context.Context, stop <-chan struct{}) func() {
	mine := make([][]*sess, fleetWorkers)
	for i, s := range f.sess {
		mine[i%fleetWorkers] = append(mine[i%fleetWorkers], s)
	}
	done := make(chan error, fleetWorkers)
	for w := range fleetWorkers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			var err error
			after := -1 // operations left once stop is closed
			for err == nil && after != 0 {
				select {
				case <-stop:
					if after < 0 {
						after = afterStop
					}
				default:
				}
				if after > 0 {
					after--
				}
				node := f.nodes[rng.IntN(len(f.nodes))]
				err = f.step(ctx, node, rng, &mine[w])
				f.ops.Add(1)
			}
			done <- err
		}()
	}
	return func() {
		var errs []error
		for range fleetWorkers {
			errs = append(errs, <-done)
		}
		if err := errors.Join(errs...); err != nil {
			f.t.Fatal(err)
		}
		f.sess = f.sess[:0]
		for _, m := range mine {
			f.sess = append(f.sess, m...)
		}
	}
}

func (f *fleet) step(ctx context.Context, node *cluster.Cluster, rng *rand.Rand, mine *[]*sess) error {
	// Half the operations go to the worker's last few sessions, so that a
	// session written through one node in one phase is soon read, updated
	// or destroyed through the other node, possibly in another phase.
	s := (*mine)[rng.IntN(len(*mine))]
	if n := len(*mine); rng.IntN(2) == 0 {
		s = (*mine)[n-1-rng.IntN(min(n, 8))]
	}
	switch r := rng.IntN(100); {
	case r < 5: // create
		n := &sess{id: fmt.Sprintf("new-%06d", f.nextID.Add(1)), value: 1, exp: time.Now().Add(time.Hour).Truncate(time.Millisecond)}
		*mine = append(*mine, n)
		return save(ctx, node, n, store.Create)
	case s.deleted:
		if _, found, err := node.Load(ctx, s.id, store.LoadOptions{}); err != nil || found {
			return fmt.Errorf("destroyed session %s: found=%v err=%v", s.id, found, err)
		}
		return nil
	case r < 8: // destroy
		s.deleted = true
		return node.Delete(ctx, s.id)
	case r < 35: // update, pushing the expiry
		s.value++
		s.exp = s.exp.Add(time.Second)
		return save(ctx, node, s, store.Update)
	case r < 40: // touch
		s.exp = s.exp.Add(time.Second)
		return save(ctx, node, s, store.Touch)
	default: // read
		fields, found, err := node.Load(ctx, s.id, store.LoadOptions{})
		if err != nil || !found || fields["v"] != strconv.Itoa(s.value) {
			return fmt.Errorf("session %s: found=%v v=%q err=%v, want v=%d", s.id, found, fields["v"], err, s.value)
		}
		return nil
	}
}

// verify checks every session through every node and, for live sessions,
// the remaining TTL on the owning shard (pipelined per shard).
func (f *fleet) verify(ctx context.Context) {
	t := f.t
	for _, node := range append(slices.Clone(f.nodes), f.op) {
		if tp := node.Topology(); tp.Phase != cluster.PhaseStable {
			t.Fatalf("a node is still in %s after Reshard", tp.Phase)
		}
		byShard := map[*shard.Shard][]*sess{}
		for _, s := range f.sess {
			byShard[node.ShardFor(s.id)] = append(byShard[node.ShardFor(s.id)], s)
		}
		for sh, ss := range byShard {
			pipe := sh.Primary().Pipeline()
			vals := make([]*redis.StringCmd, len(ss))
			ttls := make([]*redis.DurationCmd, len(ss))
			for i, s := range ss {
				vals[i] = pipe.HGet(ctx, node.Key(s.id), "v")
				ttls[i] = pipe.PTTL(ctx, node.Key(s.id))
			}
			// PTTL runs at some moment between before and after: the
			// expected TTL is exp minus that moment.
			before := time.Now()
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				t.Fatal(err)
			}
			after := time.Now()
			for i, s := range ss {
				v, err := vals[i].Result()
				if s.deleted {
					if !errors.Is(err, redis.Nil) {
						t.Fatalf("destroyed session %s is back on %s: %q", s.id, sh.Name(), v)
					}
					continue
				}
				if err != nil || v != strconv.Itoa(s.value) {
					t.Fatalf("session %s on %s: v=%q err=%v, want %d", s.id, sh.Name(), v, err, s.value)
				}
				if ttl := ttls[i].Val(); ttl > s.exp.Sub(before)+time.Second || ttl < s.exp.Sub(after)-time.Second {
					t.Fatalf("session %s: TTL %v, want %v to %v ± 1s", s.id, ttl, s.exp.Sub(after), s.exp.Sub(before))
				}
			}
		}
	}
	if bad := misplaced(t, f.op); len(bad) > 0 {
		t.Fatalf("%d keys on a shard that does not own them, e.g. %s", len(bad), bad[0])
	}
}

// reshard runs Reshard to shards under load and verifies the result.
func (f *fleet) reshard(shards []shard.Options) cluster.Progress {
	ctx := context.Background()
	stop := make(chan struct{})
	wait := f.load(ctx, stop)
	phases := 0
	p, err := f.op.Reshard(ctx, shards, cluster.ReshardOptions{
		Migrate: cluster.MigrateOptions{Rate: 100000, Batch: 200},
		Poll:    20 * time.Millisecond,
		OnPhase: func(t cluster.Topology, nodes int) {
			phases++
			if nodes != len(f.nodes) {
				f.t.Errorf("phase %s acknowledged by %d nodes, want %d", t.Phase, nodes, len(f.nodes))
			}
			if t.Phase == cluster.PhaseStable {
				return
			}
			// Every node moves keys the same way.
			for i, c := range append([]*cluster.Cluster{f.op}, f.nodes...) {
				if got := c.Topology(); got.Mover != f.mover || got.Phase < t.Phase {
					f.t.Errorf("phase %s: node %d routes by phase %s with mover %s, want mover %s", t.Phase, i, got.Phase, got.Mover, f.mover)
				}
			}
		},
	})
	close(stop)
	wait()
	if err != nil {
		f.t.Fatalf("Reshard: %v", err)
	}
	if !p.Done || phases != 3 {
		f.t.Fatalf("Reshard = %+v after %d phases", p, phases)
	}
	f.verify(ctx)
	f.t.Logf("reshard to %d shards: %+v, %d operations so far", len(shards), p, f.ops.Load())
	return p
}

// Acceptance: 3 → 4 → 3 shards under load from two nodes switching at
// different moments, with either mover.
func TestFleetAddThenRemoveUnderLoad(t *testing.T) {
	for _, mv := range movers {
		t.Run(mv.name, func(t *testing.T) { testFleetAddThenRemoveUnderLoad(t, mv.args, mv.mover) })
	}
}

func testFleetAddThenRemoveUnderLoad(t *testing.T, args []string, mover cluster.Mover) {
	f := newFleetOf(t, args, mover)
	extra := redistest.NewServer(t, redistest.Options{Args: args})
	three := f.shardOptions()
	four := append(slices.Clone(three), shard.Options{Name: "s3", Addr: extra.Addr(), Client: patient})
	if p := f.reshard(four); p.Moved == 0 {
		t.Fatal("adding a shard moved nothing")
	}
	f.reshard(three)
	if n := sessionKeys(t, extra.Client(), f.op.Key("")); n != 0 {
		t.Fatalf("the removed shard still holds %d sessions", n)
	}
	// Every move finished: no move mark (copy mover) is left anywhere.
	servers := []*redistest.Server{extra}
	for _, sh := range f.top.Shards {
		servers = append(servers, sh.Primary)
	}
	for _, s := range servers {
		cl := s.Client()
		marks, err := cl.Keys(context.Background(), f.op.Key("~moving:*")).Result()
		cl.Close()
		if err != nil || len(marks) != 0 {
			t.Fatalf("%s: move marks left %v, %v", s.Addr(), marks, err)
		}
	}
}

// Acceptance: replace one shard under load.
func TestFleetReplaceUnderLoad(t *testing.T) {
	f := newFleet(t)
	fresh := redistest.NewServer(t, redistest.Options{})
	shards := f.shardOptions()
	old := shards[1]
	shards[1] = shard.Options{Name: "s1b", Addr: fresh.Addr(), Client: patient}
	f.reshard(shards)
	if n := sessionKeys(t, f.top.Shards[1].Primary.Client(), f.op.Key("")); n != 0 {
		t.Fatalf("replaced shard %s still holds %d sessions", old.Name, n)
	}
}

// sessionKeys counts the session keys (not the cluster's own) of a server.
func sessionKeys(t *testing.T, c *redis.Client, prefix string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if iter.Val()[len(prefix)] != '~' {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// A node that has not read the topology record for longer than its lease
// refuses requests rather than route by a topology the fleet may have left,
// and serves again after a successful poll (here: a new Follow).
func TestFollowLease(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 2})
	ctx := context.Background()
	fl, err := c.Follow(ctx, cluster.FollowOptions{Interval: time.Hour, Lease: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Load(ctx, "id", store.LoadOptions{}); err != nil {
		t.Fatalf("load within the lease: %v", err)
	}
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if _, _, err := c.Load(ctx, "id", store.LoadOptions{}); !errors.Is(err, cluster.ErrStaleTopology) {
			return fmt.Errorf("load = %v, want ErrStaleTopology", err)
		}
		return nil
	})
	fl.Close()
	if _, _, err := c.Load(ctx, "id", store.LoadOptions{}); err != nil {
		t.Fatalf("load after the follower stopped: %v", err)
	}
}

// A node's polls of the topology record go round the shards: a fleet's
// polls are spread over its shards, not all sent to one.
func TestFollowSpreadsPolls(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	fl, err := c.Follow(ctx, cluster.FollowOptions{Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		for _, s := range top.Shards {
			rdb := redis.NewClient(&redis.Options{Addr: s.Primary.Addr()})
			stats, err := rdb.Info(ctx, "commandstats").Result()
			rdb.Close()
			if err != nil {
				return err
			}
			// Each poll reads the record (HGET) from one shard.
			if !strings.Contains(stats, "cmdstat_hget:calls=") {
				return fmt.Errorf("shard %s was never polled", s.Name)
			}
		}
		return nil
	})
}

// calls returns how many times each shard's primary ran cmd (INFO
// commandstats).
func calls(ctx context.Context, t *testing.T, top *redistest.Topology, cmd string) []int {
	t.Helper()
	out := make([]int, len(top.Shards))
	for i, s := range top.Shards {
		rdb := redis.NewClient(&redis.Options{Addr: s.Primary.Addr()})
		stats, err := rdb.Info(ctx, "commandstats").Result()
		rdb.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, rest, ok := strings.Cut(stats, "cmdstat_"+cmd+":calls="); ok {
			out[i], _ = strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		}
	}
	return out
}

// While the topology is stable a follower polls every StableInterval, not
// every Interval, and its acknowledgements go round the shards: here one
// every third poll, which on the polled shard would always be the same one
// of three.
func TestFollowStableCadence(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	const stable = 100 * time.Millisecond
	fl, err := c.Follow(ctx, cluster.FollowOptions{Interval: 5 * time.Millisecond, StableInterval: stable, Lease: 5 * stable})
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	sum := func(xs []int) (n int) {
		for _, x := range xs {
			n += x
		}
		return n
	}
	polls, acks := calls(ctx, t, top, "hget"), calls(ctx, t, top, "zadd")
	start := time.Now()
	redistest.Eventually(t, 20*time.Second, func(context.Context) error {
		now := calls(ctx, t, top, "zadd")
		for i := range now {
			if now[i] == acks[i] {
				return fmt.Errorf("acknowledgements per shard %v, then %v: shard %d has none", acks, now, i)
			}
		}
		return nil
	})
	elapsed := time.Since(start)
	n := sum(calls(ctx, t, top, "hget")) - sum(polls)
	// Every 100 ms ± 10%, plus the time each poll takes: well below the
	// one every 5 ms that Interval would give.
	if most := int(elapsed/(stable*9/10)) + 3; n > most {
		t.Errorf("%d polls in %v, want at most %d (one per StableInterval)", n, elapsed, most)
	}
	t.Logf("%d polls in %v; acknowledgements per shard %v", n, elapsed, calls(ctx, t, top, "zadd"))
}
