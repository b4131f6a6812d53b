package bench_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

// The fleet simulation runs and reads the servers' counters: requests
// served without error, connections and commands counted on the servers;
// a sticky balancer keeps every session on one node, so that no write is
// pushed to another node and Redis remembers at most one node per
// session; nodes with no near cache have nothing tracked or pushed.
func TestFleet(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	f := bench.Fleet{
		Cluster:  cluster.Options{Shards: clustertest.ShardOptions(top)},
		Nodes:    []int{1, 3},
		Sessions: 50, Rate: 200, Writes: 0.3,
		Duration: 700 * time.Millisecond, Warmup: 200 * time.Millisecond, Idle: 300 * time.Millisecond,
	}
	for _, sh := range top.Shards {
		f.Servers = append(f.Servers, bench.FleetServer{Addr: sh.Primary.Addr(), Role: bench.Primary})
		for _, r := range sh.Replicas {
			f.Servers = append(f.Servers, bench.FleetServer{Addr: r.Addr(), Role: bench.Replica})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runs := []struct {
		sticky, noNearCache bool
	}{{false, false}, {true, false}, {false, true}}
	for _, run := range runs {
		f.Sticky, f.NoNearCache = run.sticky, run.noNearCache
		rs, err := f.Run(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			setup := fmt.Sprintf("%s, %d nodes", r.Setup(), r.Nodes)
			if r.Requests == 0 || r.Errors != 0 || r.ConnsPerPrimary < float64(r.Nodes) || r.CommandsPerRequest <= 0 || r.RoundTripsPerRequest <= 0 || r.NearCache == run.noNearCache {
				t.Errorf("%s: %+v", setup, r)
			}
			switch {
			case run.noNearCache:
				if r.HitRate != 0 || r.PushesPerWrite != 0 || r.TrackedPerSession != 0 {
					t.Errorf("%s: %.2f hits, %.2f pushes per write, %.2f nodes tracked per session, want none", setup, r.HitRate, r.PushesPerWrite, r.TrackedPerSession)
				}
			case run.sticky:
				if r.PushesPerWrite != 0 || r.SampleOnly != 0 {
					t.Errorf("%s: %.2f pushes per write, %.2f of the nodes caching a sample only, want 0", setup, r.PushesPerWrite, r.SampleOnly)
				}
				if r.TrackedPerSession <= 0 || r.TrackedPerSession > 1 {
					t.Errorf("%s: %.2f nodes tracked per session, want some, at most 1", setup, r.TrackedPerSession)
				}
			default:
				if r.TrackedPerSession <= 0 || r.TrackedPerSession > float64(r.Nodes) {
					t.Errorf("%s: %.2f nodes tracked per session, want some, at most %d", setup, r.TrackedPerSession, r.Nodes)
				}
			}
		}
	}
}
