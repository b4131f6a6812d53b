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
// do), SetShards and Reshard move keys with the copy mover. Where the copy
// mover cannot work either (the new shard refuses EVAL too) they refuse to
// start: a clear error, the topology unchanged, every session still
// readable. Either way no probe key is left behind.
func TestReshardRefusedWithoutMigrate(t *testing.T) {
	noMigrate := []string{"--rename-command", "MIGRATE", ""}
	noScripts := append([]string{"--rename-command", "EVAL", "", "--rename-command", "EVALSHA", ""}, noMigrate...)
	changes := []struct {
		name   string
		change func(ctx context.Context, c *cluster.Cluster, shards []shard.Options) error
	}{
		{"SetShards", func(ctx context.Context, c *cluster.Cluster, shards []shard.Options) error {
			if err := c.SetShards(ctx, shards); err != nil {
				return err
			}
			if got := c.Topology().Mover; got != cluster.MoverCopy {
				return fmt.Errorf("mover %s, want copy", got)
			}
			_, err := c.Migrate(ctx, cluster.MigrateOptions{Rate: -1})
			return err
		}},
		{"Reshard", func(ctx context.Context, c *cluster.Cluster, shards []shard.Options) error {
			var mover cluster.Mover
			_, err := c.Reshard(ctx, shards, cluster.ReshardOptions{OnPhase: func(t cluster.Topology, _ int) {
				if t.Phase == cluster.PhaseMigrate {
					mover = t.Mover
				}
			}})
			if err == nil && mover != cluster.MoverCopy {
				err = fmt.Errorf("mover %s, want copy", mover)
			}
			return err
		}},
	}
	servers := []struct {
		name    string
		extra   []string // the new shard's redis-server arguments
		refused bool
	}{
		{"copy mover", noMigrate, false},
		{"no mover", noScripts, true},
	}
	for _, srv := range servers {
		for _, ch := range changes {
			t.Run(srv.name+"/"+ch.name, func(t *testing.T) {
				c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 2, Args: noMigrate})
				extra := redistest.NewServer(t, redistest.Options{Args: srv.extra})
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
				err := ch.change(ctx, c, add)
				switch {
				case srv.refused && !errors.Is(err, cluster.ErrCannotMove):
					t.Fatalf("err = %v, want ErrCannotMove", err)
				case srv.refused:
					t.Log(err)
					if got := c.Topology(); got.Epoch != before.Epoch || got.Phase != cluster.PhaseStable || len(got.Shards) != len(before.Shards) {
						t.Fatalf("topology after the refusal: epoch %d phase %s, %d shards; want epoch %d, stable, %d shards", got.Epoch, got.Phase, len(got.Shards), before.Epoch, len(before.Shards))
					}
				case err != nil:
					t.Fatalf("change with the copy mover: %v", err)
				default:
					if got := c.Topology(); got.Phase != cluster.PhaseStable || len(got.Shards) != 3 {
						t.Fatalf("topology after the change: %+v", got)
					}
					if bad := misplaced(t, c); len(bad) > 0 {
						t.Fatalf("%d keys on a shard that does not own them, e.g. %s", len(bad), bad[0])
					}
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
}
