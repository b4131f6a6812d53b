package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// On servers that refuse MIGRATE (renamed away, as managed Redis services
// do), SetShards and Reshard refuse to start: a clear error, the topology
// unchanged, every session still readable, no probe key left behind.
func TestReshardRefusedWithoutMigrate(t *testing.T) {
	noMigrate := []string{"--rename-command", "MIGRATE", ""}
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 2, Args: noMigrate})
	extra := redistest.NewServer(t, redistest.Options{Args: noMigrate})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const n = 200
	exp := time.Now().Add(time.Hour)
	for i := range n {
		if err := write(ctx, c, fmt.Sprint("s", i), store.Create, "v", exp); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Topology()
	add := append(clustertest.ShardOptions(top), shard.Options{Name: "s-extra", Addr: extra.Addr()})

	tests := []struct {
		name   string
		change func() error
	}{
		{"SetShards", func() error { return c.SetShards(ctx, add) }},
		{"Reshard", func() error { _, err := c.Reshard(ctx, add, cluster.ReshardOptions{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.change()
			if !errors.Is(err, cluster.ErrCannotMove) {
				t.Fatalf("err = %v, want ErrCannotMove", err)
			}
			t.Log(err)
			if got := c.Topology(); got.Epoch != before.Epoch || got.Phase != cluster.PhaseStable || len(got.Shards) != len(before.Shards) {
				t.Fatalf("topology after the refusal: epoch %d phase %s, %d shards; want epoch %d, stable, %d shards", got.Epoch, got.Phase, len(got.Shards), before.Epoch, len(before.Shards))
			}
			for i := range n {
				if _, found, err := c.Load(ctx, fmt.Sprint("s", i), store.LoadOptions{}); err != nil || !found {
					t.Fatalf("session s%d: found %v, %v", i, found, err)
				}
			}
			servers := []*redistest.Server{extra}
			for _, sh := range top.Shards {
				servers = append(servers, sh.Primary)
			}
			for _, s := range servers {
				cl := s.Client()
				keys, err := cl.Keys(ctx, c.Key("")+"*probe*").Result()
				cl.Close()
				if err != nil || len(keys) != 0 {
					t.Fatalf("%s: probe keys %v, %v", s.Addr(), keys, err)
				}
			}
		})
	}
}
