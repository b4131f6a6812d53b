package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// Concurrent loads and saves of one shard share round trips through its
// auto-pipeliner; with Unbatched each is a round trip of its own.
func TestConcurrentRequestsShareRoundTrips(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	for _, unbatched := range []bool{false, true} {
		var trips atomic.Int64
		c, err := cluster.New(cluster.Options{
			Shards:    clustertest.ShardOptions(top),
			Unbatched: unbatched,
			Observer: shard.ObserverFunc(func(cmd shard.Command) {
				if cmd.Name == "pipeline" || cmd.Name == "hgetall" || cmd.Name == "evalsha" {
					trips.Add(1)
				}
			}),
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		exp := time.Now().Add(time.Minute)
		id := fmt.Sprint("unbatched-", unbatched)
		if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"n": []byte("0")}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
		const workers, each = 32, 20
		trips.Store(0)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					if _, found, err := c.Load(ctx, id, store.LoadOptions{}); err != nil || !found {
						t.Errorf("load: %v %v", found, err)
						return
					}
					if _, err := c.Save(ctx, id, store.Write{Mode: store.Touch, ExpireAt: exp}); err != nil {
						t.Errorf("save: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		c.Close()
		requests := int64(2 * workers * each)
		t.Logf("unbatched=%v: %d requests in %d round trips", unbatched, requests, trips.Load())
		switch n := trips.Load(); {
		case unbatched && n < requests:
			t.Errorf("unbatched: %d round trips for %d requests", n, requests)
		case !unbatched && n > requests*9/10:
			t.Errorf("batched: %d round trips for %d requests, want them shared", n, requests)
		}
	}
}

// A caller alone on a shard does not wait for the auto-pipeliner: each
// load and save is sent at once on the client, one round trip on the main
// pool, and never flushed as a pipeline (whose flusher would hold it for a
// silence gap first). Counted by the client's pools: a pipeline flush takes
// a connection from the pipeline pool.
func TestLoneCallerSendsAtOnce(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	if _, err := c.Save(ctx, "lone", store.Write{Mode: store.Create, Set: map[string][]byte{"n": []byte("0")}, ExpireAt: exp}); err != nil {
		t.Fatal(err)
	}
	gets := func() (main, pipelined uint32) {
		st := c.Shards()[0].Primary().PoolStats()
		if st.PipelineStats == nil {
			t.Fatal("go-redis has no separate pipeline pool: this test cannot tell a flush from a command")
		}
		return st.Hits + st.Misses, st.PipelineStats.Hits + st.PipelineStats.Misses
	}
	// The shard's capability probe at start takes connections too.
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if c.Shards()[0].Capabilities().Probed.IsZero() {
			return errors.New("the shard's primary is not probed yet")
		}
		return nil
	})
	main0, pipe0 := gets()
	const n = 50
	for i := range n {
		if _, found, err := c.Load(ctx, "lone", store.LoadOptions{}); err != nil || !found {
			t.Fatalf("load: %v %v", found, err)
		}
		if _, err := c.Save(ctx, "lone", store.Write{Mode: store.Update, Set: map[string][]byte{"n": []byte(fmt.Sprint(i))}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	main1, pipe1 := gets()
	if main1-main0 != 2*n || pipe1 != pipe0 {
		t.Fatalf("%d lone loads and saves took %d connections from the main pool and %d from the pipeline pool; want %d and 0", n, main1-main0, pipe1-pipe0, 2*n)
	}
}
