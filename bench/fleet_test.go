package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

// The fleet simulation runs and reads the servers' counters: requests
// served without error, connections and commands counted on the servers,
// and a sticky balancer that keeps every session on one node, so that no
// write is pushed to another node.
func TestFleet(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	f := bench.Fleet{
		Cluster:  cluster.Options{Shards: clustertest.ShardOptions(top)},
		Nodes:    []int{1, 3},
		Sessions: 50, Rate: 200, Writes: 0.3,
		Duration: 700 * time.Millisecond, Idle: 300 * time.Millisecond,
	}
	for _, sh := range top.Shards {
		f.Servers = append(f.Servers, bench.FleetServer{Addr: sh.Primary.Addr(), Role: bench.Primary})
		for _, r := range sh.Replicas {
			f.Servers = append(f.Servers, bench.FleetServer{Addr: r.Addr(), Role: bench.Replica})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, sticky := range []bool{false, true} {
		f.Sticky = sticky
		rs, err := f.Run(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Requests == 0 || r.Errors != 0 || r.ConnsPerPrimary < float64(r.Nodes) || r.CommandsPerRequest <= 0 {
				t.Errorf("%+v", r)
			}
			if sticky && r.PushesPerWrite != 0 {
				t.Errorf("sticky, %d nodes: %.2f pushes per write, want 0", r.Nodes, r.PushesPerWrite)
			}
		}
	}
}
