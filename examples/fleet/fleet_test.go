package fleet_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/examples/fleet"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
)

func TestSmoke(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1})
	reg := prometheus.NewRegistry()
	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top)}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	if err := fleet.Smoke(context.Background(), f.URL, len(f.Nodes), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())

	// The demo's /metrics has series for every shard, from every node.
	b := webtest.New(t)
	code, body := b.Get(f.URL + "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, s := range top.Shards {
		for _, node := range []string{"web-1", "web-3"} {
			want := `shardsession_shard_info{primary="` + s.Primary.Addr() + `",shard="` + s.Name + `",web_node="` + node + `"} 1`
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	if !strings.Contains(body, `shardsession_redis_command_duration_seconds_bucket{command="evalsha"`) {
		t.Errorf("/metrics has no latency histogram of the session saves:\n%s", body)
	}
}
