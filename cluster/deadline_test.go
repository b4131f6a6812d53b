package cluster_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// frozenCluster is a 3-shard cluster without replicas, with its breakers
// off so that every call really waits on the network, and one session
// saved on each shard (returned by shard name).
func frozenCluster(t *testing.T) (*cluster.Cluster, *redistest.Topology, map[string]string) {
	t.Helper()
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	opts := clustertest.ShardOptions(top)
	for i := range opts {
		opts[i].Breaker.Failures = -1
	}
	c, err := cluster.New(cluster.Options{Shards: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ids := map[string]string{}
	for _, s := range top.Shards {
		id := idOn(t, c, s.Name)
		if _, err := c.Save(context.Background(), id, store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		ids[s.Name] = id
	}
	return c, top, ids
}

// storeOps are the calls a request makes, by name.
var storeOps = []struct {
	name string
	do   func(ctx context.Context, c *cluster.Cluster, id string) error
}{
	{"load", func(ctx context.Context, c *cluster.Cluster, id string) error {
		_, _, err := c.Load(ctx, id, store.LoadOptions{})
		return err
	}},
	{"save", func(ctx context.Context, c *cluster.Cluster, id string) error {
		_, err := c.Save(ctx, id, store.Write{Mode: store.Update, Set: map[string][]byte{"n": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)})
		return err
	}},
	{"lock", func(ctx context.Context, c *cluster.Cluster, id string) error {
		_, err := c.TryLock(ctx, id, "owner", time.Second)
		return err
	}},
	{"delete", func(ctx context.Context, c *cluster.Cluster, id string) error {
		return c.Delete(ctx, id)
	}},
}

// With a shard's primary frozen (SIGSTOP: the kernel still accepts
// connections and buffers writes, nothing answers), every call given a
// 200 ms deadline returns ErrUnavailable within 250 ms, and the other
// shards serve meanwhile.
func TestDeadlineBoundsCallToFrozenPrimary(t *testing.T) {
	c, top, ids := frozenCluster(t)
	frozen := top.Shards[1]
	if err := frozen.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	defer frozen.Primary.Resume()
	const deadline, bound = 200 * time.Millisecond, 250 * time.Millisecond
	var worst time.Duration
	for _, op := range storeOps {
		t.Run(op.name, func(t *testing.T) {
			// Twice: on the pooled connection, then on one that must be dialled
			// (a timed-out connection is dropped).
			for round := range 2 {
				var wg sync.WaitGroup
				for _, s := range top.Shards {
					if s == frozen {
						continue
					}
					wg.Go(func() {
						ctx, cancel := context.WithTimeout(context.Background(), deadline)
						defer cancel()
						if op.name == "delete" {
							return // the session is gone after the first round
						}
						if err := op.do(ctx, c, ids[s.Name]); err != nil {
							t.Errorf("round %d: %s on %s, not frozen: %v", round, op.name, s.Name, err)
						}
					})
				}
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				start := time.Now()
				err := op.do(ctx, c, ids[frozen.Name])
				took := time.Since(start)
				cancel()
				wg.Wait()
				worst = max(worst, took)
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("round %d: %s on the frozen shard = %v, want ErrUnavailable", round, op.name, err)
				}
				if took > bound {
					t.Errorf("round %d: %s on the frozen shard took %v, want ≤ %v", round, op.name, took, bound)
				}
			}
		})
	}
	t.Logf("slowest call with a %v deadline: %v", deadline, worst)
}

// The near cache's reads and writes go over its tracking stream, a
// connection of its own: they end by the deadline too.
func TestDeadlineBoundsNearCacheCall(t *testing.T) {
	c, top, ids := frozenCluster(t)
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nc.Ready(rctx); err != nil {
		t.Fatal(err)
	}
	frozen := top.Shards[2]
	id := ids[frozen.Name]
	nc.Invalidate(id) // not cached: the load must ask the frozen primary
	if err := frozen.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	defer frozen.Primary.Resume()
	for _, op := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"load", func(ctx context.Context) error { _, _, err := nc.Load(ctx, id, store.LoadOptions{}); return err }},
		{"save", func(ctx context.Context) error {
			_, err := nc.Save(ctx, id, store.Write{Mode: store.Update, Set: map[string][]byte{"n": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)})
			return err
		}},
	} {
		t.Run(op.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := op.do(ctx)
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) || took > 250*time.Millisecond {
				t.Errorf("%s on the frozen shard = %v after %v, want ErrUnavailable within 250ms", op.name, err, took)
			}
		})
	}
}

// A shard found through Sentinel, with replicas: a call to its frozen
// primary ends by the deadline too, and a read does not go on to the
// replicas once the deadline has passed.
func TestDeadlineBoundsSentinelShard(t *testing.T) {
	// down-after 30 s: no failover during the test.
	c, top := clustertest.NewSentinel(t, redistest.TopologyOptions{Shards: 2, Replicas: 1, Sentinels: 1, DownAfter: 30 * time.Second}, cluster.Options{})
	ids := map[string]string{}
	for _, s := range top.Shards {
		ids[s.Name] = idOn(t, c, s.Name)
		if _, err := c.Save(context.Background(), ids[s.Name], store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	frozen := top.Shards[0]
	if err := frozen.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	defer frozen.Primary.Resume()
	for _, op := range storeOps {
		t.Run(op.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := op.do(ctx, c, ids[frozen.Name])
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) || took > 250*time.Millisecond {
				t.Errorf("%s on the frozen shard = %v after %v, want ErrUnavailable within 250ms", op.name, err, took)
			}
			other, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel2()
			if op.name != "delete" {
				if err := op.do(other, c, ids[top.Shards[1].Name]); err != nil {
					t.Errorf("%s on %s, not frozen: %v", op.name, top.Shards[1].Name, err)
				}
			}
		})
	}
}

// Without a deadline a call to a frozen primary is bounded by the client
// template's timeouts and retries: docs/operations.md gives the bound.
func TestNoDeadlineWorstCase(t *testing.T) {
	c, top, ids := frozenCluster(t)
	frozen := top.Shards[0]
	if err := frozen.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	defer frozen.Primary.Resume()
	// The defaults: 1 s read/write/dial timeouts, one retry, one dial
	// attempt. A read times out once per attempt, and a retry waits up to
	// 100 ms first.
	bound := shard.WorstCase(nil)
	for _, op := range storeOps[:2] {
		t.Run(op.name, func(t *testing.T) {
			start := time.Now()
			err := op.do(context.Background(), c, ids[frozen.Name])
			took := time.Since(start)
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s = %v, want ErrUnavailable", op.name, err)
			}
			if took > bound {
				t.Errorf("%s took %v, want ≤ %v", op.name, took, bound)
			}
			t.Logf("%s without a deadline: %v (bound %v)", op.name, took, bound)
		})
	}
}
