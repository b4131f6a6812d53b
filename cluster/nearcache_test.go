package cluster_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// node is one web node's view of the fleet: its own Cluster (own
// connections) and near cache, over a topology shared with other nodes.
type node struct {
	c  *cluster.Cluster
	nc *cluster.NearCache
}

func newNode(t *testing.T, top *redistest.Topology) *node {
	t.Helper()
	return n(clustertest.NewNode(t, top, cluster.NearCacheOptions{HealthInterval: 200 * time.Millisecond}))
}

func n(c *cluster.Cluster, nc *cluster.NearCache) *node { return &node{c, nc} }

// owner is the decode function's identity in these tests.
type owner struct{}

// read returns field "a" of id through the near cache.
func (nd *node) read(t *testing.T, id string, minVersion int64) (string, bool) {
	t.Helper()
	v, found, err := nd.nc.LoadDecoded(context.Background(), id, owner{}, minVersion, func(f map[string]string) (any, int, error) {
		return f["a"], len(f["a"]), nil
	})
	if err != nil {
		t.Fatalf("LoadDecoded(%s): %v", id, err)
	}
	if !found {
		return "", false
	}
	return v.(string), true
}

func (nd *node) write(t *testing.T, id, value string, mode store.WriteMode) int64 {
	t.Helper()
	v, err := nd.nc.Save(context.Background(), id, store.Write{Mode: mode, Set: map[string][]byte{"a": []byte(value)}, ExpireAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatalf("save %s: %v", id, err)
	}
	return v
}

// cached reads id on nd until the read is a hit, proving the entry is in
// the cache.
func (nd *node) cached(t *testing.T, id, want string) {
	t.Helper()
	eventually(t, func() error {
		before := nd.nc.Stats().Hits
		got, _ := nd.read(t, id, 0)
		if nd.nc.Stats().Hits == before || got != want {
			return fmt.Errorf("%s not cached as %q (read %q)", id, want, got)
		}
		return nil
	})
}

// invalidatedSince waits until nd has counted more invalidations than
// before (what says which, for the failure message).
func (nd *node) invalidatedSince(t *testing.T, before uint64, what string) {
	t.Helper()
	eventually(t, func() error {
		if nd.nc.Stats().Invalidations == before {
			return fmt.Errorf("no invalidation of %s", what)
		}
		return nil
	})
}

// eventually polls check until it returns nil, failing after a generous
// deadline (the machine is shared and slow).
func eventually(t *testing.T, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// A write on node A is never hidden from node B by B's cache: read with the
// writer's version (what read-your-writes carries in the cookie) B returns
// it at once, every time; read without it, B returns it as soon as the
// invalidation has reached B, and never an older value afterwards.
func TestNearCacheWriteOnAReadOnB(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	const rounds = 1000
	id := "session-ab"
	a.write(t, id, "0", store.Create)
	stale := 0
	for i := 1; i <= rounds; i++ {
		prev, want := fmt.Sprint(i-1), fmt.Sprint(i)
		if got, _ := b.read(t, id, 0); got != prev {
			t.Fatalf("round %d: B read %q before the write, want %q", i, got, prev)
		}
		inval := b.nc.Stats().Invalidations
		v := a.write(t, id, want, store.Update)
		if got, _ := b.read(t, id, v); got != want {
			t.Fatalf("round %d: B read %q with min version %d, want %q", i, got, v, want)
		}
		// Without a version: B may serve prev only until the invalidation
		// of the write arrives; count how often it did.
		if got, _ := b.read(t, id, 0); got != want {
			stale++
		}
		b.invalidatedSince(t, inval, fmt.Sprintf("A's write of round %d on B", i))
		if got, _ := b.read(t, id, 0); got != want {
			t.Fatalf("round %d: B read %q after the invalidation, want %q", i, got, want)
		}
	}
	st := b.nc.Stats()
	t.Logf("%d rounds: B hits %d, misses %d, invalidations %d; reads racing the invalidation that saw the old value: %d", rounds, st.Hits, st.Misses, st.Invalidations, stale)
	if st.Hits < rounds {
		t.Fatalf("B's cache was hit %d times in %d rounds: not caching", st.Hits, rounds)
	}
}

func TestNearCacheDeleteOnA(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	a.write(t, "gone", "x", store.Create)
	b.cached(t, "gone", "x")
	if err := a.nc.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if _, found := b.read(t, "gone", 0); found {
			return fmt.Errorf("B still finds the session deleted on A")
		}
		return nil
	})
}

func TestNearCacheExpiry(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	ctx := context.Background()
	if _, err := a.nc.Save(ctx, "brief", store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("x")}, ExpireAt: time.Now().Add(300 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	b.cached(t, "brief", "x")
	eventually(t, func() error {
		if _, found := b.read(t, "brief", 0); found {
			return fmt.Errorf("B still finds the expired session")
		}
		return nil
	})
	if ok, _ := a.c.Exists(ctx, "brief"); ok {
		t.Fatal("B's cache missed a session that Redis still has")
	}
}

// Killing B's tracking connections flushes B's cache: a write made while
// they are down is not hidden by an entry cached before.
func TestNearCacheKilledConnectionFlushes(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	ctx := context.Background()
	ids := []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	for _, id := range ids {
		a.write(t, id, "old", store.Create)
		b.cached(t, id, "old")
	}
	flushes := b.nc.Stats().Flushes
	// Kill every tracking connection on every shard (A's too): at least one
	// shard holds a cached session, and B must forget it.
	for _, s := range top.Shards {
		cl := s.Primary.Client()
		list, err := cl.ClientList(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(list, "\n") {
			if strings.Contains(line, " name=shardsession-tracking ") {
				id := strings.Fields(line)[0] // id=N
				if err := cl.Do(ctx, "CLIENT", "KILL", "ID", strings.TrimPrefix(id, "id=")).Err(); err != nil {
					t.Fatal(err)
				}
			}
		}
		cl.Close()
	}
	for _, id := range ids {
		a.write(t, id, "new", store.Update)
	}
	eventually(t, func() error {
		if b.nc.Stats().Flushes == flushes {
			return fmt.Errorf("B did not flush after losing its tracking connections")
		}
		return nil
	})
	for _, id := range ids {
		if got, _ := b.read(t, id, 0); got != "new" {
			t.Fatalf("%s: B read %q after its connection was killed, want new", id, got)
		}
	}
	// The stream comes back, and caching and invalidation with it.
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.nc.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	b.cached(t, "k1", "new")
	a.write(t, "k1", "newer", store.Update)
	eventually(t, func() error {
		if got, _ := b.read(t, "k1", 0); got != "newer" {
			return fmt.Errorf("B reads %q after reconnecting, want newer", got)
		}
		return nil
	})
}

// Concurrent writers on A and readers on B: once the writes stop, B's cache
// converges to what Redis holds for every key. A read that raced a write
// and cached the older value would stay stale for good.
func TestNearCacheRacingWritesConverge(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	raceAndConverge(t, a, []*node{a}, []*node{b}, []string{"r0", "r1", "r2", "r3"}, time.Second)
}

// raceAndConverge creates ids on first, then has 3 goroutines per writer
// save them and 4 per reader read them through the near cache for d; once
// the writes stop, every reader's cache must converge to what Redis holds.
func raceAndConverge(t *testing.T, first *node, writers, readers []*node, ids []string, d time.Duration) {
	t.Helper()
	for _, id := range ids {
		first.write(t, id, "0", store.Create)
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for ni, nd := range writers {
		for w := range 3 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					id := ids[(w+i)%len(ids)]
					nd.nc.Save(context.Background(), id, store.Write{Mode: store.Update, Set: map[string][]byte{"a": []byte(fmt.Sprintf("%d-%d-%d", ni, w, i))}, ExpireAt: time.Now().Add(time.Minute)})
				}
			})
		}
	}
	for _, nd := range readers {
		for r := range 4 {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					nd.nc.LoadDecoded(context.Background(), ids[(r+i)%len(ids)], owner{}, 0, func(f map[string]string) (any, int, error) { return f["a"], 1, nil })
				}
			})
		}
	}
	wg.Wait()
	for _, id := range ids {
		fields, _, err := first.c.Load(context.Background(), id, store.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for ni, nd := range readers {
			eventually(t, func() error {
				if got, _ := nd.read(t, id, 0); got != fields["a"] {
					return fmt.Errorf("%s: reader %d serves %q, Redis holds %q", id, ni, got, fields["a"])
				}
				return nil
			})
		}
	}
	for ni, nd := range readers {
		t.Logf("reader %d: %+v", ni, nd.nc.Stats())
	}
}

func TestNearCacheBounds(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{MaxEntries: 128, MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	nd := n(c, nc)
	for i := range 1000 {
		id := fmt.Sprint("b", i)
		nd.write(t, id, "v", store.Create)
		nd.read(t, id, 0)
	}
	if st := nc.Stats(); st.Entries > 128 || st.Entries == 0 {
		t.Fatalf("%d entries cached, bound 128", st.Entries)
	}
	if _, err := cluster.NewNearCache(c, cluster.NearCacheOptions{MaxEntries: -1}); err == nil {
		t.Fatal("a negative bound was accepted")
	}
}

// The writer keeps what it wrote: after a save on A, A's next read of the
// session is a hit with the new value (no round trip), round after round,
// while writes on B in between still reach A. The same holds when A
// follows the fleet's topology, as the nodes of a fleet do.
func TestNearCacheWriterKeepsItsWrite(t *testing.T) {
	for _, follow := range []bool{false, true} {
		t.Run(fmt.Sprintf("follow=%v", follow), func(t *testing.T) { writerKeepsItsWrite(t, follow) })
	}
}

func writerKeepsItsWrite(t *testing.T, follow bool) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	if follow {
		f, err := a.c.Follow(context.Background(), cluster.FollowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
	}
	const rounds = 500
	id := "session-own"
	a.write(t, id, "0", store.Create)
	a.cached(t, id, "0")
	for i := 1; i <= rounds; i++ {
		want := fmt.Sprint(i)
		if i%5 == 0 {
			// Another node writes: A's entry must go, and A then reads B's
			// value (from Redis, then cached).
			inval := a.nc.Stats().Invalidations
			b.write(t, id, want, store.Update)
			a.invalidatedSince(t, inval, fmt.Sprintf("B's write of round %d on A", i))
			if got, _ := a.read(t, id, 0); got != want {
				t.Fatalf("round %d: A read %q after B wrote %q", i, got, want)
			}
			continue
		}
		v := a.write(t, id, want, store.Update)
		before := a.nc.Stats()
		if got, _ := a.read(t, id, v); got != want {
			t.Fatalf("round %d: A read %q after writing %q", i, got, want)
		}
		if after := a.nc.Stats(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
			t.Fatalf("round %d: A's read of its own write was not a hit (%+v, then %+v)", i, before, after)
		}
	}
	t.Logf("A: %+v", a.nc.Stats())
}

// Writers and readers on both nodes at once, on the same sessions: once the
// writes stop, each node's cache converges to what Redis holds. A
// write-through entry made against a record another node had changed would
// stay stale for good.
func TestNearCacheWriteThroughRacesConverge(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	nodes := []*node{newNode(t, top), newNode(t, top)}
	raceAndConverge(t, nodes[0], nodes, nodes, []string{"w0", "w1", "w2", "w3"}, 2*time.Second)
}

// Only nodes that hold a key hear of its writes: B, which never read the
// session, gets no invalidation however often A writes it; once B has read
// it, B hears of the next write.
func TestNearCacheOnlyHoldersAreTold(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a, b := newNode(t, top), newNode(t, top)
	id := "session-not-on-b"
	a.write(t, id, "0", store.Create)
	for i := range 100 {
		a.write(t, id, fmt.Sprint(i), store.Update)
	}
	// A marker that B does read, written last: once B has heard of it, it
	// would have heard of the writes before it too.
	b.write(t, "marker", "0", store.Create)
	b.read(t, "marker", 0)
	a.write(t, "marker", "1", store.Update)
	b.invalidatedSince(t, 0, "the marker B read")
	if n := b.nc.Stats().Invalidations; n != 1 {
		t.Fatalf("B got %d invalidations; want 1 (the marker): writes of a session B never read reached it", n)
	}
	b.read(t, id, 0)
	a.write(t, id, "read", store.Update)
	eventually(t, func() error {
		if got, _ := b.read(t, id, 0); got != "read" {
			return fmt.Errorf("B reads %q after A's write of a session B holds", got)
		}
		return nil
	})
}

// The tracking connection's only health check is a PING before a hit on a
// stream silent for a health interval: an idle stream costs the server
// nothing, a busy one needs no check, and a node serving hits from a quiet
// one checks it at most once per interval (Stats.Checks).
func TestNearCacheChecksOnlySilentStreams(t *testing.T) {
	const health = 50 * time.Millisecond
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	a := n(clustertest.NewNode(t, top, cluster.NearCacheOptions{HealthInterval: health}))
	rdb := redis.NewClient(&redis.Options{Addr: top.Shards[0].Primary.Addr()})
	defer rdb.Close()
	pings := func() int {
		t.Helper()
		stats, err := rdb.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		_, rest, ok := strings.Cut(stats, "cmdstat_ping:calls=")
		if !ok {
			return 0
		}
		n, _ := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
		return n
	}
	a.write(t, "busy", "0", store.Create)
	before := pings()
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		a.nc.Invalidate("busy") // so the next read goes to Redis, on the stream
		a.read(t, "busy", 0)
	}
	if busy := pings() - before; busy > 2 {
		t.Errorf("%d PINGs in a second of reads on the stream, want none", busy)
	}

	before = pings()
	idle := time.NewTimer(10 * health)
	<-idle.C
	if n := pings() - before; n != 0 {
		t.Errorf("%d PINGs in %v of an idle stream, want none", n, 10*health)
	}

	// Hits only: the stream is silent, so it is checked, once per health
	// interval at most, however many hits.
	before, checks := pings(), a.nc.Stats().Checks
	start := time.Now()
	for time.Since(start) < 20*health {
		if got, _ := a.read(t, "busy", 0); got != "0" {
			t.Fatalf("read %q, want 0", got)
		}
	}
	elapsed := time.Since(start)
	sent, counted := pings()-before, a.nc.Stats().Checks-checks
	if sent == 0 || counted == 0 {
		t.Fatalf("%d PINGs, %d checks in %v of hits on a silent stream, want some", sent, counted, elapsed)
	}
	if most := int(elapsed/health) + 2; sent > most {
		t.Errorf("%d PINGs in %v of hits, want at most one per health interval (%d)", sent, elapsed, most)
	}
}

// A miss costs the server one command, as a read of the plain Cluster
// does: the record (HGETALL), on the stream that tracks it.
func TestNearCacheMissIsOneCommand(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	a, b := newNode(t, top), newNode(t, top)
	a.write(t, "s", "x", store.Create)
	eventually(t, func() error { // the start-up probes of the nodes' shards are done
		for _, nd := range []*node{a, b} {
			if nd.c.Shards()[0].Capabilities().Probed.IsZero() {
				return fmt.Errorf("the shard is not probed yet")
			}
		}
		return nil
	})
	srv := top.Shards[0].Primary.Client()
	defer srv.Close()
	ctx := context.Background()
	commands := func() map[string]int {
		info, err := srv.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		calls := map[string]int{}
		for _, line := range strings.Split(info, "\r\n") {
			name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
			if ok && strings.HasPrefix(line, "cmdstat_") {
				n, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
				calls[name] = n
			}
		}
		return calls
	}
	before := commands()
	misses := b.nc.Stats().Misses
	if got, found := b.read(t, "s", 0); !found || got != "x" {
		t.Fatalf("read = %q, %v", got, found)
	}
	if b.nc.Stats().Misses != misses+1 {
		t.Fatal("the read was not a miss")
	}
	after := commands()
	for name, n := range after {
		if d := n - before[name]; d != 0 && name != "info" {
			if name != "hgetall" || d != 1 {
				t.Errorf("%s: %d calls for one miss", name, d)
			}
		}
	}
	if got, _ := b.read(t, "s", 0); got != "x" || b.nc.Stats().Misses != misses+1 {
		t.Fatal("the second read was not a hit")
	}
}

// sampledIDs returns n session IDs that a near cache keeps even while it
// takes no others in (one in sixteen), or, with sampled false, n it then
// leaves out.
func sampledIDs(prefix string, n int, sampled bool) []string {
	var ids []string
	for i := 0; len(ids) < n; i++ {
		if id := fmt.Sprintf("%s-%d", prefix, i); cluster.NearCacheSampled(id) == sampled {
			ids = append(ids, id)
		}
	}
	return ids
}

// A node that is told of nearly every session it read before it reads it
// again (round-robin over many nodes) stops taking sessions in: after a
// window of such sessions it caches only its sample, reads the others
// uncached, so that Redis no longer tracks them for it nor pushes their
// writes to it, and stays coherent; once the sample is reused again it
// takes every session in again.
func TestNearCacheStopsTakingInSessionsNotReused(t *testing.T) {
	const window = 8
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	a := n(clustertest.NewNode(t, top, cluster.NearCacheOptions{HealthInterval: 200 * time.Millisecond, ReuseWindow: window}))
	b := newNode(t, top)

	// Round-robin: A reads each session once, B writes it next.
	for i, id := range sampledIDs("rr", window, false) {
		b.write(t, id, "0", store.Create)
		a.read(t, id, 0)
		before := a.nc.Stats().Invalidations
		b.write(t, id, "1", store.Update)
		a.invalidatedSince(t, before, id)
		if s := a.nc.Stats(); i < window-1 && s.Bypassing != 0 {
			t.Fatalf("bypassing after %d unreused sessions of a window of %d", i+1, window)
		}
	}
	s := a.nc.Stats()
	if s.Bypassing != 1 || s.Bypasses != 1 || s.Dropped != window || s.DroppedHits != 0 {
		t.Fatalf("after a window of unreused sessions: %+v; want bypassing, once, %d unreused", s, window)
	}

	// A session outside the sample is now read uncached and untracked:
	// B's writes of it reach A neither as a push nor as a stale read.
	id := sampledIDs("out", 1, false)[0]
	b.write(t, id, "0", store.Create)
	for i := range 20 {
		if got, _ := a.read(t, id, 0); got != fmt.Sprint(i) {
			t.Fatalf("round %d: A reads %q", i, got)
		}
		b.write(t, id, fmt.Sprint(i+1), store.Update)
	}
	a.write(t, id, "mine", store.Update) // through the Cluster, not kept
	if got, _ := a.read(t, id, 0); got != "mine" {
		t.Fatalf("A reads %q after its own write", got)
	}
	if got := a.nc.Stats(); got.Hits != s.Hits || got.Entries != s.Entries || got.Invalidations != s.Invalidations {
		t.Fatalf("a session outside the sample was cached or tracked: %+v, before %+v", got, s)
	}

	// The sample is still cached, coherently; reused, it brings A back.
	for _, id := range sampledIDs("sample", window, true) {
		b.write(t, id, "0", store.Create)
		a.read(t, id, 0)
		a.cached(t, id, "0")
		before := a.nc.Stats().Invalidations
		b.write(t, id, "1", store.Update)
		a.invalidatedSince(t, before, id)
		if got, _ := a.read(t, id, 0); got != "1" {
			t.Fatalf("A reads %q of a sampled session after B's write", got)
		}
	}
	if s := a.nc.Stats(); s.Bypassing != 0 || s.DroppedHits < window {
		t.Fatalf("after a window of reused sessions: %+v; want every session taken in", s)
	}
	id = sampledIDs("back", 1, false)[0]
	b.write(t, id, "0", store.Create)
	a.read(t, id, 0)
	a.cached(t, id, "0")
}

// MinReuse below zero keeps every session taken in, whatever the reuse.
func TestNearCacheMinReuseNegativeAlwaysCaches(t *testing.T) {
	const window = 4
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	a := n(clustertest.NewNode(t, top, cluster.NearCacheOptions{MinReuse: -1, ReuseWindow: window}))
	b := newNode(t, top)
	for _, id := range sampledIDs("rr", 3*window, false) {
		b.write(t, id, "0", store.Create)
		a.read(t, id, 0)
		before := a.nc.Stats().Invalidations
		b.write(t, id, "1", store.Update)
		a.invalidatedSince(t, before, id)
	}
	if s := a.nc.Stats(); s.Bypassing != 0 || s.Bypasses != 0 || s.Dropped != 3*window || s.DroppedHits != 0 {
		t.Fatalf("%+v: want no bypass, %d sessions dropped unread", s, 3*window)
	}
	id := sampledIDs("out", 1, false)[0]
	b.write(t, id, "0", store.Create)
	a.read(t, id, 0)
	a.cached(t, id, "0")
}
