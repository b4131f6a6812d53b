package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// misplaced returns the session keys of every shard of c's topology that
// the shard does not own.
func misplaced(t testing.TB, c *cluster.Cluster) []string {
	t.Helper()
	ctx := context.Background()
	prefix := c.Key("")
	var bad []string
	for _, sh := range c.Shards() {
		iter := sh.Primary().Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			id := strings.TrimPrefix(iter.Val(), prefix)
			if strings.HasPrefix(id, "~") {
				continue
			}
			if owner := c.Locate(id); owner != sh.Name() {
				bad = append(bad, fmt.Sprintf("%s on %s, owner %s", id, sh.Name(), owner))
			}
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return bad
}

func write(ctx context.Context, c *cluster.Cluster, id string, mode cluster.WriteMode, value string, exp time.Time) error {
	_, err := c.Save(ctx, id, cluster.Write{Mode: mode, Set: map[string][]byte{"v": []byte(value)}, ExpireAt: exp})
	return err
}

// One process adds a shard, then removes another: every session stays
// readable with its TTL, updates of sessions not moved yet succeed, deletes
// stay deleted, and the migrator leaves every key on its owner.
func TestSetShardsAddRemove(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	extra := redistest.NewServer(t, redistest.Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	const n = 2000
	for i := range n {
		if err := write(ctx, c, fmt.Sprint("id", i), cluster.Create, "v0", exp); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.AddShard(ctx, shard.Options{Name: "s3", Addr: extra.Addr()}); err != nil {
		t.Fatal(err)
	}
	if tp := c.Topology(); tp.Phase != cluster.PhaseMigrate || len(tp.Prev) != 3 || len(tp.Shards) != 4 {
		t.Fatalf("after AddShard: %+v", tp)
	}
	if err := c.AddShard(ctx, shard.Options{Name: "s4", Addr: extra.Addr()}); !errors.Is(err, cluster.ErrMigrating) {
		t.Fatalf("second change during a migration = %v, want ErrMigrating", err)
	}
	// Before the migrator: update a third, delete a third, read the rest.
	for i := range n {
		id := fmt.Sprint("id", i)
		switch i % 3 {
		case 0:
			if err := write(ctx, c, id, cluster.Update, "v1", exp); err != nil {
				t.Fatalf("update %s during migration: %v", id, err)
			}
		case 1:
			if err := c.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(stage string) {
		t.Helper()
		for i := range n {
			id := fmt.Sprint("id", i)
			fields, found, err := c.Load(ctx, id, cluster.LoadOptions{})
			if err != nil {
				t.Fatalf("%s: load %s: %v", stage, id, err)
			}
			want := map[int]string{0: "v1", 2: "v0"}[i%3]
			if (want != "") != found || found && fields["v"] != want {
				t.Fatalf("%s: %s = %v (found %v), want %q", stage, id, fields, found, want)
			}
			if !found {
				continue
			}
			ttl, err := c.ShardFor(id).Primary().PTTL(ctx, c.Key(id)).Result()
			if err != nil || time.Until(exp)-ttl > 2*time.Second || ttl-time.Until(exp) > time.Second {
				t.Fatalf("%s: %s TTL %v, want ~%v (%v)", stage, id, ttl, time.Until(exp), err)
			}
		}
	}
	check("after add")

	var last cluster.Progress
	p, err := c.Migrate(ctx, cluster.MigrateOptions{Rate: -1, Batch: 100, Progress: func(p cluster.Progress) { last = p }})
	if err != nil || !p.Done || last != p {
		t.Fatalf("Migrate = %+v, %v (last report %+v)", p, err, last)
	}
	if tp := c.Topology(); tp.Phase != cluster.PhaseStable || tp.Prev != nil || len(c.Shards()) != 4 {
		t.Fatalf("after Migrate: %+v", tp)
	}
	if bad := misplaced(t, c); len(bad) > 0 {
		t.Fatalf("%d keys on a shard that does not own them, e.g. %s", len(bad), bad[0])
	}
	check("after migrate")

	if err := c.RemoveShard(ctx, top.Shards[1].Name); err != nil {
		t.Fatal(err)
	}
	check("after remove")
	if p, err = c.Migrate(ctx, cluster.MigrateOptions{Rate: -1}); err != nil || !p.Done {
		t.Fatalf("Migrate = %+v, %v", p, err)
	}
	if n, _ := top.Shards[1].Primary.Client().DBSize(ctx).Result(); n != 0 {
		t.Fatalf("removed shard still holds %d keys", n)
	}
	if bad := misplaced(t, c); len(bad) > 0 {
		t.Fatalf("%d keys on a shard that does not own them, e.g. %s", len(bad), bad[0])
	}
	check("after drain")
}
