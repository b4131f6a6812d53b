package fleet_test

import (
	"context"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/examples/fleet"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

func TestSmoke(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1})
	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top)}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	if err := fleet.Smoke(context.Background(), f.URL, len(f.Nodes), &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
}
