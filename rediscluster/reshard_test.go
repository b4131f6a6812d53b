package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// Load of the reshard test: sessions, and workers that each own a share.
const (
	reshardSessions = 20000
	reshardWorkers  = 8
	// reshardLogout is the chance that a visit to a live session logs it
	// out rather than reading and writing it.
	reshardLogout = 0.15
)

// reshardSession is what a worker last did to one session, the truth the
// store is checked against. Only the session's worker touches it.
type reshardSession struct {
	exists   bool
	value    int
	expireAt time.Time
}

// reshardTally counts what went wrong while the slots moved.
type reshardTally struct {
	ops, storeErrs, lost, resurrected, stale atomic.Int64
	mu                                       sync.Mutex
	first                                    []string // the first few failures, for the log
}

func (r *reshardTally) fail(n *atomic.Int64, format string, args ...any) {
	n.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.first) < 10 {
		r.first = append(r.first, fmt.Sprintf(format, args...))
	}
}

// idleOn returns a new store over rc and the ID of a session it has just
// created on master, so that its slot table names master for it; the store
// is closed when the test ends.
func idleOn(t *testing.T, rc *redistest.RedisCluster, master string) (*Cluster, string) {
	t.Helper()
	c, err := New(Options{Addrs: rc.Addrs(), Durability: Durability{DeleteReplicas: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for i := range 10000 {
		id := "idle" + strconv.Itoa(i)
		if c.Locate(id) != master {
			continue
		}
		w := store.Write{Mode: store.Create, Set: map[string][]byte{"v:n": []byte("idle")}, ExpireAt: time.Now().Add(time.Hour)}
		if _, err := c.Save(context.Background(), id, w); err != nil {
			t.Fatal(err)
		}
		return c, id
	}
	t.Fatalf("no ID on %s", master)
	return nil, ""
}

// Resharding by the engine under load: 8 workers log in, read, write and
// log out on their shares of 20,000 sessions while a fourth master is
// added and given a quarter of the slots (redis-cli --cluster rebalance),
// then emptied and removed. The load lasts as long as the reshard. Every
// error the store returns counts, and so does a session lost, resurrected,
// stale, or whose TTL moved by more than 1 s.
func TestEngineReshardUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("resharding a Redis Cluster under load takes about a minute")
	}
	began := time.Now()
	// A cluster of its own (the moves would disturb the shared one's
	// tests), without replicas, since the added master has none. Half the
	// workers write through c, which waits for no replica (its writes go
	// through the cluster client, which follows redirections); the other
	// half through cw, which WAITs for one (its writes hold a connection
	// to the master, where go-redis follows nothing and the store retries
	// the redirections itself): with no replica, cw's writes return
	// ErrNotReplicated after 1 ms, which is their success here.
	rc := redistest.NewRedisCluster(t, redistest.RedisClusterOptions{Replicas: -1})
	raw := &replyCounter{}
	newStore := func(d Durability) *Cluster {
		c, err := New(Options{Addrs: rc.Addrs(), Durability: d, Client: &redis.ClusterOptions{Dialer: raw.Dial}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	c := newStore(Durability{DeleteReplicas: -1})
	cw := newStore(Durability{DeleteReplicas: 1, SaveReplicas: 1, Timeout: time.Millisecond})
	stores := [2]*Cluster{c, cw}
	retried := func() MoveStats { return c.MoveStats().Add(cw.MoveStats()) }
	ctx := context.Background()

	sessions := make([]reshardSession, reshardSessions)
	id := func(i int) string { return "s" + strconv.Itoa(i) }
	value := func(n int) map[string][]byte { return map[string][]byte{"v:n": []byte(strconv.Itoa(n))} }
	var tally reshardTally

	// forEachShare runs f for each worker's share, concurrently.
	forEachShare := func(f func(w int, r *rand.Rand)) {
		var wg sync.WaitGroup
		for w := range reshardWorkers {
			wg.Go(func() { f(w, rand.New(rand.NewPCG(uint64(w), 1))) })
		}
		wg.Wait()
	}

	// Log everyone in.
	forEachShare(func(w int, _ *rand.Rand) {
		for i := w; i < reshardSessions; i += reshardWorkers {
			s := &sessions[i]
			s.expireAt = time.Now().Add(time.Hour)
			if _, err := c.Save(ctx, id(i), store.Write{Mode: store.Create, Set: value(0), ExpireAt: s.expireAt}); err != nil {
				tally.fail(&tally.storeErrs, "create %s: %v", id(i), err)
				continue
			}
			s.exists = true
		}
	})
	if n := tally.storeErrs.Load(); n > 0 {
		t.Fatalf("%d creates failed before the reshard: %v", n, tally.first)
	}
	loaded := time.Since(began)

	// applied is nil for a write applied on the master: cw's
	// ErrNotReplicated says so (no replica exists to confirm it).
	applied := func(err error) error {
		if errors.Is(err, store.ErrNotReplicated) {
			return nil
		}
		return err
	}

	// visit is one worker's turn on session i: log in if logged out,
	// else read, then write or log out.
	visit := func(c *Cluster, i int, r *rand.Rand) {
		s := &sessions[i]
		tally.ops.Add(1)
		fields, found, err := c.Load(ctx, id(i), store.LoadOptions{})
		switch {
		case err != nil:
			tally.fail(&tally.storeErrs, "load %s: %v", id(i), err)
			return
		case s.exists && !found:
			tally.fail(&tally.lost, "load %s: lost", id(i))
			return
		case !s.exists && found:
			tally.fail(&tally.resurrected, "load %s: resurrected", id(i))
			return
		case found && fields["v:n"] != strconv.Itoa(s.value):
			tally.fail(&tally.stale, "load %s: v:n %q, want %d", id(i), fields["v:n"], s.value)
			return
		}
		exp := time.Now().Add(time.Hour)
		switch {
		case !s.exists:
			_, err = c.Save(ctx, id(i), store.Write{Mode: store.Create, Set: value(s.value + 1), ExpireAt: exp})
			if err = applied(err); err == nil {
				s.exists, s.value, s.expireAt = true, s.value+1, exp
			}
		case r.Float64() < reshardLogout:
			if err = applied(c.Delete(ctx, id(i))); err == nil {
				s.exists = false
			}
		default:
			_, err = c.Save(ctx, id(i), store.Write{Mode: store.Update, Set: value(s.value + 1), ExpireAt: exp})
			if err = applied(err); err == nil {
				s.value, s.expireAt = s.value+1, exp
			}
		}
		if err != nil {
			tally.fail(&tally.storeErrs, "write %s: %v", id(i), err)
		}
	}

	// The load, until the reshard is over.
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		forEachShare(func(w int, r *rand.Rand) {
			for {
				for i := w; i < reshardSessions; i += reshardWorkers {
					select {
					case <-stop:
						return
					default:
					}
					visit(stores[w%2], i, r)
				}
			}
		})
	}()

	// The reshard, timed and counted phase by phase.
	type phase struct {
		name       string
		took       time.Duration
		ops        int64
		retried    MoveStats
		rawReplies MoveStats
	}
	var phases []phase
	run := func(name string, f func() error) {
		t.Helper()
		start, ops, before, rawBefore := time.Now(), tally.ops.Load(), retried(), raw.snapshot()
		if err := f(); err != nil {
			close(stop)
			<-loadDone
			t.Fatalf("%s: %v", name, err)
		}
		phases = append(phases, phase{name, time.Since(start), tally.ops.Load() - ops, retried().Sub(before), raw.snapshot().Sub(rawBefore)})
	}
	var added *redistest.Server
	run("add a master and rebalance onto it", func() (err error) {
		if added, err = rc.AddMaster(ctx); err != nil {
			return err
		}
		return rc.Rebalance(ctx)
	})
	// A second store, idle while the master is removed: its slot table
	// still names the removed master for a session there, and its
	// requests fail on the network until the store retries them (gone.go).
	idle, idleID := idleOn(t, rc, added.Addr())
	run("empty and remove it", func() error { return rc.RemoveMaster(ctx, added) })
	close(stop)
	<-loadDone
	if fields, found, err := idle.Load(ctx, idleID, store.LoadOptions{}); err != nil || !found || fields["v:n"] != "idle" {
		t.Errorf("idle store: Load %s after the removal = %v, %v, %v; want v:n idle", idleID, fields, found, err)
	}
	t.Logf("idle store after the removal: retried %+v", idle.MoveStats())

	// Check every session against what its worker last did.
	var ttlOff atomic.Int64
	forEachShare(func(w int, _ *rand.Rand) {
		for i := w; i < reshardSessions; i += reshardWorkers {
			s := &sessions[i]
			fields, found, err := c.Load(ctx, id(i), store.LoadOptions{})
			switch {
			case err != nil:
				tally.fail(&tally.storeErrs, "final load %s: %v", id(i), err)
			case s.exists && !found:
				tally.fail(&tally.lost, "final load %s: lost", id(i))
			case !s.exists && found:
				tally.fail(&tally.resurrected, "final load %s: resurrected", id(i))
			case found && fields["v:n"] != strconv.Itoa(s.value):
				tally.fail(&tally.stale, "final load %s: v:n %q, want %d", id(i), fields["v:n"], s.value)
			}
			if !s.exists || !found {
				continue
			}
			ttl, err := c.Client().PTTL(ctx, c.Key(id(i))).Result()
			want := time.Until(s.expireAt)
			if err != nil || ttl-want > time.Second || want-ttl > time.Second {
				tally.fail(&ttlOff, "TTL of %s = %v, %v; want %v ± 1s", id(i), ttl, err, want)
			}
		}
	})

	live := 0
	for _, s := range sessions {
		if s.exists {
			live++
		}
	}
	t.Logf("%d sessions created in %v; %d operations during the reshard; %d live and %d logged out at the end",
		reshardSessions, loaded.Round(time.Millisecond), tally.ops.Load(), live, reshardSessions-live)
	for _, p := range phases {
		t.Logf("%s: %v, %d operations; the client was answered %+v, the store retried %+v",
			p.name, p.took.Round(time.Millisecond), p.ops, p.rawReplies, p.retried)
	}
	t.Logf("the store retried %+v for the client that waits for no replica, %+v for the one that WAITs", c.MoveStats(), cw.MoveStats())
	t.Logf("errors %d, lost %d, resurrected %d, stale %d, TTL off %d; whole test %v",
		tally.storeErrs.Load(), tally.lost.Load(), tally.resurrected.Load(), tally.stale.Load(), ttlOff.Load(), time.Since(began).Round(time.Millisecond))
	if tally.storeErrs.Load()+tally.lost.Load()+tally.resurrected.Load()+tally.stale.Load()+ttlOff.Load() > 0 {
		t.Fatalf("failures: %s", strings.Join(tally.first, "\n"))
	}
}
