package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

func runReshardArgs(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := reshard(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

// reshard --add then --remove on a running topology: a following web node
// keeps every session, and the removed shard ends empty.
func TestReshardAddRemove(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	extra := redistest.NewServer(t, redistest.Options{})
	ctx := context.Background()
	// The web node: long timeouts, so that a machine shared by many test
	// runs does not trip its breakers while MIGRATE blocks a shard.
	opts := clustertest.ShardOptions(top)
	for i := range opts {
		opts[i].Client = &redis.Options{DialTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	}
	c, err := cluster.New(cluster.Options{Shards: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f, err := c.Follow(ctx, cluster.FollowOptions{Interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exp := time.Now().Add(time.Hour)
	for i := range 500 {
		if _, err := c.Save(ctx, fmt.Sprint("id", i), store.Write{Mode: store.Create, Set: map[string][]byte{"v": []byte("x")}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	var parts []string
	for _, s := range top.Shards {
		parts = append(parts, s.Name+"="+s.Primary.Addr())
	}
	shards := strings.Join(parts, ",")

	code, out := runReshardArgs(t, "--shards", shards, "--add", "s3="+extra.Addr(), "--rate", "-1")
	if code != 0 || !strings.Contains(out, "[s0 s1 s2] → [s0 s1 s2 s3]") || !strings.Contains(out, "done: epoch 1") {
		t.Fatalf("reshard --add exited %d:\n%s", code, out)
	}
	// The same --shards flags still work: the command reads the stored
	// topology, which now has s3.
	code, out = runReshardArgs(t, "--shards", shards, "--remove", "s3", "--rate", "-1")
	if code != 0 || !strings.Contains(out, "[s0 s1 s2 s3] → [s0 s1 s2]") || !strings.Contains(out, "shard s3 holds no session") {
		t.Fatalf("reshard --remove exited %d:\n%s", code, out)
	}
	keys, err := extra.Client().Keys(ctx, c.Key("")+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, c.Key("~")) { // the topology record and acknowledgements stay
			t.Fatalf("removed shard still holds %s", k)
		}
	}
	for i := range 500 {
		if _, found, err := c.Load(ctx, fmt.Sprint("id", i), store.LoadOptions{}); err != nil || !found {
			t.Fatalf("id%d after add and remove: found=%v err=%v", i, found, err)
		}
	}
}

func TestReshardUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"nothing to do", []string{"--shards", "s0=127.0.0.1:1"}},
		{"unknown shard", []string{"--shards", "s0=127.0.0.1:1", "--remove", "s9"}},
		{"bad add", []string{"--shards", "s0=127.0.0.1:1", "--add", "s1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := runReshardArgs(t, tt.args...); code != 2 && code != 1 {
				t.Fatalf("exit %d, want a usage error:\n%s", code, out)
			}
		})
	}
}
