package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// aclCluster is a cluster over top that logs in as a user whose ACL has
// rules (e.g. "-wait") on top of every command, key and channel: the
// limited accounts of managed Redis services.
func aclCluster(t *testing.T, top *redistest.Topology, rules string, opt cluster.Options) *cluster.Cluster {
	t.Helper()
	ctx := context.Background()
	for _, s := range top.Shards {
		for _, srv := range append([]*redistest.Server{s.Primary}, s.Replicas...) {
			rc := srv.Client()
			args := []any{"ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all"}
			for _, r := range strings.Fields(rules) {
				args = append(args, r)
			}
			err := rc.Do(ctx, args...).Err()
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	opt.Shards = clustertest.ShardOptions(top)
	for i := range opt.Shards {
		opt.Shards[i].Client = &redis.Options{Username: "app", Password: "secret",
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	}
	c, err := cluster.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// WAIT refused by an ACL is a configuration error that names WAIT: not a
// shard that went away (503), and not a reason to journal every logout.
func TestWaitRefusedIsAnError(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	c := aclCluster(t, top, "-wait", cluster.Options{})
	id := idOn(t, c, top.Shards[0].Name)
	ctx := context.Background()
	if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err := c.Delete(ctx, id)
	if err == nil || errors.Is(err, shard.ErrUnavailable) || !strings.Contains(err.Error(), "WAIT") || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("Delete with WAIT denied = %v, want an error naming WAIT and NOPERM, not ErrUnavailable", err)
	}
	if s := c.Stats(); s.Journalled != 0 || s.UnconfirmedDeletes != 0 {
		t.Fatalf("a refused WAIT was taken for a missing replica: %+v", s)
	}
}

// A near cache whose servers refuse CLIENT (an ACL without it, or the
// command renamed away, as on some managed services) says so: Ready fails
// at once naming the shard, and Stats counts the refusals and names the
// shard as off; sessions are still served, uncached, and its Watch
// subscribes on a connection of its own.
func TestNearCacheWithoutClientCommand(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T) (*cluster.Cluster, string)
	}{
		{"ACL without CLIENT", func(t *testing.T) (*cluster.Cluster, string) {
			top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
			return aclCluster(t, top, "-client", cluster.Options{}), top.Shards[0].Name
		}},
		{"CLIENT renamed away", func(t *testing.T) (*cluster.Cluster, string) {
			c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 1, Args: []string{"--rename-command", "CLIENT", ""}})
			return c, top.Shards[0].Name
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, name := tt.setup(t)
			nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			readyErr := nc.Ready(ctx)
			if readyErr == nil || ctx.Err() != nil || !strings.Contains(readyErr.Error(), name) {
				t.Fatalf("Ready = %v (ctx %v), want an immediate error naming the shard", readyErr, ctx.Err())
			}
			if s := nc.Stats(); s.TrackingRefused == 0 || s.ShardsOff != 1 || s.Off[name] != "off: CLIENT refused" {
				t.Fatalf("refusal not reported: %+v", s)
			}
			nd := n(c, nc)
			nd.write(t, "s1", "v1", store.Create)
			if v, ok := nd.read(t, "s1", 0); !ok || v != "v1" {
				t.Fatalf("uncached read = %q, %v", v, ok)
			}

			events := make(chan store.Event, 100)
			wctx, stop := context.WithCancel(context.Background())
			watched := make(chan struct{})
			go func() { defer close(watched); nc.Watch(wctx, func(e store.Event) { events <- e }, nil) }()
			defer func() { stop(); <-watched }()
			redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
				if err := nc.Publish(ctx, store.Event{Kind: store.Destroyed, ID: "s1"}); err != nil {
					return err
				}
				select {
				case e := <-events:
					if e.ID != "s1" || e.Kind != store.Destroyed {
						return fmt.Errorf("event %+v, want s1 destroyed", e)
					}
					return nil
				case <-time.After(200 * time.Millisecond):
					return errors.New("no event through the near cache's Watch")
				}
			})
		})
	}
}

// A save of thousands of fields is applied in slices: Lua's unpack of
// every argument at once overflows its stack ("too many results to
// unpack").
func TestSaveManyFields(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	ctx := context.Background()
	set := map[string][]byte{}
	for i := range 5000 {
		set[fmt.Sprintf("field-%d", i)] = []byte("v")
	}
	if _, err := c.Save(ctx, "many", store.Write{Mode: store.Create, Set: set, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("create with %d fields: %v", len(set), err)
	}
	del := make([]string, 0, len(set))
	for f := range set {
		del = append(del, f)
	}
	if _, err := c.Save(ctx, "many", store.Write{Mode: store.Update, Del: del, Set: map[string][]byte{"x": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("delete of %d fields: %v", len(del), err)
	}
	fields, _, err := c.Load(ctx, "many", store.LoadOptions{})
	if err != nil || len(fields) != 3 { // x, _v, _w
		t.Fatalf("after deleting every field: %d fields, %v", len(fields), err)
	}
}
