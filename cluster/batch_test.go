package cluster_test

import (
	"context"
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
