package replica_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
)

// newSet watches the replicas of a fresh one-shard topology with two
// replicas, and waits for both to be healthy.
func newSet(t *testing.T, opt replica.Options) (*replica.Set, *redistest.Shard, []*redis.Client) {
	t.Helper()
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 2})
	sh := top.Shards[0]
	primary := sh.Primary.Client()
	t.Cleanup(func() { primary.Close() })
	var clients []*redis.Client
	for _, r := range sh.Replicas {
		c := r.Client()
		t.Cleanup(func() { c.Close() })
		clients = append(clients, c)
	}
	s, err := replica.New(primary, clients, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	waitStatus(t, s, 0, "", true)
	waitStatus(t, s, 1, "", true)
	return s, sh, clients
}

// waitStatus polls until replica i's health is healthy and its reason
// starts with reason.
func waitStatus(t *testing.T, s *replica.Set, i int, reason string, healthy bool) replica.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st := s.Status()[i]
		if st.Healthy == healthy && strings.HasPrefix(st.Reason, reason) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d: status %+v, want healthy=%v reason %q", i, st, healthy, reason)
		}
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
}

// A replica is skipped while it is down, its link is down or it lags, and
// comes back when it recovers.
func TestHealth(t *testing.T) {
	ctx := context.Background()
	s, sh, clients := newSet(t, replica.Options{Policy: replica.ReplicaPreferred, MaxLag: 400 * time.Millisecond, CheckInterval: 50 * time.Millisecond, CheckTimeout: 300 * time.Millisecond})
	primary := sh.Primary.Client()
	defer primary.Close()

	// onlyReads checks that reads go only to want (an index into clients,
	// or -1 for the primary).
	onlyReads := func(want int) {
		t.Helper()
		for range 6 {
			c, isReplica := s.Pick(ctx)
			if (want < 0) == isReplica || (want >= 0 && c != clients[want]) {
				t.Fatalf("read served by %s, want node %d", c.Options().Addr, want)
			}
		}
	}

	t.Run("killed", func(t *testing.T) {
		if err := sh.Replicas[0].Kill(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 0, "down", false)
		onlyReads(1)
		if err := sh.Replicas[0].Restart(ctx); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 0, "", true)
	})

	t.Run("stopped", func(t *testing.T) {
		if err := sh.Replicas[1].Pause(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 1, "down", false)
		onlyReads(0)
		if err := sh.Replicas[1].Resume(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 1, "", true)
	})

	t.Run("link down", func(t *testing.T) {
		// Point the replica at a port nobody listens on: it stays a
		// replica, answers reads, and reports its link down.
		if err := clients[0].SlaveOf(ctx, "127.0.0.1", "1").Err(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 0, "link down", false)
		onlyReads(1)
		host, port, _ := strings.Cut(sh.Primary.Addr(), ":")
		if err := clients[0].SlaveOf(ctx, host, port).Err(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 0, "", true)
	})

	t.Run("lagging", func(t *testing.T) {
		// CLIENT PAUSE WRITE on a replica holds back its replication stream
		// while it keeps answering reads: a replica that is up, linked, and
		// behind.
		if err := clients[1].Do(ctx, "CLIENT", "PAUSE", 60000, "WRITE").Err(); err != nil {
			t.Fatal(err)
		}
		defer clients[1].Do(ctx, "CLIENT", "UNPAUSE")
		for i := range 20 {
			if err := primary.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		st := waitStatus(t, s, 1, "lagging", false)
		if st.Lag <= 400*time.Millisecond {
			t.Fatalf("lagging with lag %v <= MaxLag", st.Lag)
		}
		onlyReads(0)
		if err := clients[1].Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, s, 1, "", true)
	})

	t.Run("all down, primary serves", func(t *testing.T) {
		for _, r := range sh.Replicas {
			if err := r.Kill(); err != nil {
				t.Fatal(err)
			}
		}
		waitStatus(t, s, 0, "down", false)
		waitStatus(t, s, 1, "down", false)
		onlyReads(-1)
	})
}

func TestLowestLatencyMeasures(t *testing.T) {
	s, _, _ := newSet(t, replica.Options{Policy: replica.LowestLatency, CheckInterval: 50 * time.Millisecond})
	for i, st := range s.Status() {
		if st.Latency <= 0 {
			t.Fatalf("replica %d: no latency measured: %+v", i, st)
		}
	}
	c, _ := s.Pick(context.Background())
	if c == nil {
		t.Fatal("no node picked")
	}
}
