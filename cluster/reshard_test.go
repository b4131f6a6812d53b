package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
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

func write(ctx context.Context, c *cluster.Cluster, id string, mode store.WriteMode, value string, exp time.Time) error {
	_, err := c.Save(ctx, id, store.Write{Mode: mode, Set: map[string][]byte{"v": []byte(value)}, ExpireAt: exp})
	return err
}

// movers are the two ways a change moves keys, and the redis-server
// arguments that make the probe pick each: servers that refuse MIGRATE, as
// managed Redis services do, get the copy mover.
var movers = []struct {
	name  string
	args  []string
	mover cluster.Mover
}{
	{"migrate", nil, cluster.MoverMigrate},
	{"copy", []string{"--rename-command", "MIGRATE", ""}, cluster.MoverCopy},
}

// One process adds a shard, then removes another: every session stays
// readable with its TTL, updates of sessions not moved yet succeed, deletes
// stay deleted, and the migrator leaves every key on its owner; with
// either mover.
func TestSetShardsAddRemove(t *testing.T) {
	for _, mv := range movers {
		t.Run(mv.name, func(t *testing.T) { testSetShardsAddRemove(t, mv.args, mv.mover) })
	}
}

func testSetShardsAddRemove(t *testing.T, args []string, mover cluster.Mover) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3, Args: args})
	extra := redistest.NewServer(t, redistest.Options{Args: args})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	const n = 2000
	for i := range n {
		if err := write(ctx, c, fmt.Sprint("id", i), store.Create, "v0", exp); err != nil {
			t.Fatal(err)
		}
	}

	if err := c.AddShard(ctx, shard.Options{Name: "s3", Addr: extra.Addr()}); err != nil {
		t.Fatal(err)
	}
	if tp := c.Topology(); tp.Phase != cluster.PhaseMigrate || len(tp.Prev) != 3 || len(tp.Shards) != 4 || tp.Mover != mover {
		t.Fatalf("after AddShard: %+v, want mover %s", tp, mover)
	}
	if err := c.AddShard(ctx, shard.Options{Name: "s4", Addr: extra.Addr()}); !errors.Is(err, cluster.ErrMigrating) {
		t.Fatalf("second change during a migration = %v, want ErrMigrating", err)
	}
	// Before the migrator: update a third, delete a third, read the rest.
	for i := range n {
		id := fmt.Sprint("id", i)
		switch i % 3 {
		case 0:
			if err := write(ctx, c, id, store.Update, "v1", exp); err != nil {
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
			fields, found, err := c.Load(ctx, id, store.LoadOptions{})
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
	// The counters behind /metrics follow the migration.
	if st := c.Stats(); st.MigrationScanned != p.Scanned || st.MigratedKeys < p.Moved || st.MigratedKeys == 0 || st.MigrationRemaining != 0 {
		t.Errorf("Stats after Migrate %+v, progress %+v", st, p)
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

// Records that are not session hashes follow a change too: a user index
// written before it stays exact during and after it, and a key found on
// both owners (which the phases rule out, short of a misbehaving node) is
// settled: the higher version of a session wins, user indexes merge; with
// either mover.
func TestSetShardsIndexesAndConflicts(t *testing.T) {
	for _, mv := range movers {
		t.Run(mv.name, func(t *testing.T) { testSetShardsIndexesAndConflicts(t, mv.args, mv.mover) })
	}
}

func testSetShardsIndexesAndConflicts(t *testing.T, args []string, mover cluster.Mover) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3, Args: args})
	extra := redistest.NewServer(t, redistest.Options{Args: args})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	before := map[string]string{}
	for i := range 200 {
		id := fmt.Sprint("id", i)
		before[id] = c.Locate(id)
		before["user:u"+fmt.Sprint(i)] = c.Locate("user:u" + fmt.Sprint(i))
		if err := write(ctx, c, id, store.Create, "v0", exp); err != nil {
			t.Fatal(err)
		}
		if err := c.IndexUser(ctx, "u"+fmt.Sprint(i), id, exp); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddShard(ctx, shard.Options{Name: "s3", Addr: extra.Addr()}); err != nil {
		t.Fatal(err)
	}
	if got := c.Topology().Mover; got != mover {
		t.Fatalf("mover %s, want %s", got, mover)
	}
	var movedID, movedUser string
	for k, was := range before {
		if c.Locate(k) != was {
			if strings.HasPrefix(k, "user:") {
				movedUser = strings.TrimPrefix(k, "user:")
			} else {
				movedID = k
			}
		}
	}
	if movedID == "" || movedUser == "" {
		t.Fatal("no session or user index changes owner")
	}
	// Every user's index still lists its session, before the migrator ran.
	for i := range 200 {
		ids, err := c.UserSessions(ctx, "u"+fmt.Sprint(i))
		if err != nil || len(ids) != 1 || ids[0] != fmt.Sprint("id", i) {
			t.Fatalf("user u%d sessions = %v, %v", i, ids, err)
		}
	}
	// Conflicts: an older copy of a moved session on its new owner, and a
	// second index of a user on the new owner of its index.
	newOwner := func(k string) *redis.Client {
		for _, sh := range c.Shards() {
			if sh.Name() == c.Locate(k) {
				return sh.Primary()
			}
		}
		t.Fatalf("no shard %s", c.Locate(k))
		return nil
	}
	if err := newOwner(movedID).HSet(ctx, c.Key(movedID), "v", "stale", store.VersionField, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := newOwner("user:"+movedUser).ZAdd(ctx, c.Key("user:"+movedUser), redis.Z{Score: float64(exp.UnixMilli()), Member: "other"}).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Migrate(ctx, cluster.MigrateOptions{Rate: -1}); err != nil {
		t.Fatal(err)
	}
	if fields, _, err := c.Load(ctx, movedID, store.LoadOptions{}); err != nil || fields["v"] != "v0" {
		t.Fatalf("conflicting session resolved to %v, %v; want the higher version", fields, err)
	}
	members, err := newOwner("user:"+movedUser).ZRange(ctx, c.Key("user:"+movedUser), 0, -1).Result()
	if err != nil || len(members) != 2 {
		t.Fatalf("merged index = %v, %v", members, err)
	}
	if bad := misplaced(t, c); len(bad) > 0 {
		t.Fatalf("%d keys on a shard that does not own them, e.g. %s", len(bad), bad[0])
	}
}

// A shard added by a topology change takes the cluster's read options and
// observer like the shards it started with.
func TestAddedShardInheritsDefaults(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	primary := redistest.NewServer(t, redistest.Options{})
	rep := redistest.NewServer(t, redistest.Options{ReplicaOf: primary.Addr()})
	var seen atomic.Int64
	c, err := cluster.New(cluster.Options{
		Shards:   clustertest.ShardOptions(top),
		Replica:  replica.Options{Policy: replica.ReplicaPreferred},
		Observer: shard.ObserverFunc(func(shard.Command) { seen.Add(1) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.SetShards(ctx, append(clustertest.ShardOptions(top), shard.Options{Name: "s1", Addr: primary.Addr(), Replicas: []string{rep.Addr()}})); err != nil {
		t.Fatal(err)
	}
	for _, sh := range c.Shards() {
		if p := sh.Reads().Policy(ctx); p != replica.ReplicaPreferred {
			t.Errorf("shard %s reads with %v, want the cluster's %v", sh.Name(), p, replica.ReplicaPreferred)
		}
	}
	before := seen.Load()
	if err := c.Shards()[len(c.Shards())-1].Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if seen.Load() == before {
		t.Error("the added shard's commands are not observed")
	}
}
