package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// TestNewRejectsBadOptions checks ErrBadOptions's contract: every
// validation error of New wraps it, whichever package found the problem.
func TestNewRejectsBadOptions(t *testing.T) {
	one := []shard.Options{{Name: "a", Addr: "127.0.0.1:1"}}
	tests := []struct {
		name string
		opt  cluster.Options
	}{
		{"no shards", cluster.Options{}},
		{"duplicate names", cluster.Options{Shards: []shard.Options{{Name: "a", Addr: "127.0.0.1:1"}, {Name: "a", Addr: "127.0.0.1:2"}}}},
		{"unnamed shard", cluster.Options{Shards: []shard.Options{{Addr: "127.0.0.1:1"}}}},
		{"no address", cluster.Options{Shards: []shard.Options{{Name: "a"}}}},
		{"sentinel and address", cluster.Options{Shards: []shard.Options{{Name: "a", Addr: "127.0.0.1:1", Sentinel: &failover.Options{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:2"}}}}}},
		{"sentinel without addresses", cluster.Options{Shards: []shard.Options{{Name: "a", Sentinel: &failover.Options{MasterName: "m"}}}}},
		{"unknown read policy", cluster.Options{Shards: []shard.Options{{Name: "a", Addr: "127.0.0.1:1", Replica: replica.Options{Policy: 99}}}}},
		{"more save replicas than replicas", cluster.Options{Shards: []shard.Options{{Name: "a", Addr: "127.0.0.1:1", Replicas: []string{"127.0.0.1:2"}}}, Durability: cluster.Durability{SaveReplicas: 2}}},
		{"ring load below 1", cluster.Options{Shards: one, Ring: cluster.RingOptions{Load: 0.5, PartitionCount: 271, ReplicationFactor: 20}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cluster.New(tt.opt)
			if err == nil {
				c.Close()
				t.Fatal("New accepted bad options")
			}
			if !errors.Is(err, cluster.ErrBadOptions) {
				t.Fatalf("New: %v, want an error wrapping cluster.ErrBadOptions", err)
			}
		})
	}
}

func TestSaveModes(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)

	if _, err := c.Save(ctx, "gone", store.Write{Mode: store.Update, Set: map[string][]byte{"a": []byte("1")}, ExpireAt: exp}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing record = %v, want ErrNotFound", err)
	}
	if ok, _ := c.Exists(ctx, "gone"); ok {
		t.Fatal("a failed update created the record")
	}
	v, err := c.Save(ctx, "id", store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, ExpireAt: exp})
	if err != nil || v != 1 {
		t.Fatalf("create = %d, %v", v, err)
	}
	if _, err := c.Save(ctx, "id", store.Write{Mode: store.Create, ExpireAt: exp}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create = %v, want ErrExists", err)
	}
	if v, err = c.Save(ctx, "id", store.Write{Mode: store.Update, Del: []string{"a"}, Set: map[string][]byte{"c": []byte("3")}, ExpireAt: exp}); err != nil || v != 2 {
		t.Fatalf("update = %d, %v", v, err)
	}
	if v, err = c.Save(ctx, "id", store.Write{Mode: store.Touch, ExpireAt: exp.Add(time.Minute)}); err != nil || v != 2 {
		t.Fatalf("touch = %d, %v; a touch must not bump the version", v, err)
	}
	fields, found, err := c.Load(ctx, "id", store.LoadOptions{})
	if err != nil || !found {
		t.Fatalf("load = %v, %v", found, err)
	}
	if _, ok := fields["a"]; ok || fields["b"] != "2" || fields["c"] != "3" || store.Version(fields) != 2 {
		t.Fatalf("fields after update: %v", fields)
	}
	ttl, _ := c.ShardFor("id").Primary().PTTL(ctx, c.Key("id")).Result()
	if ttl < 100*time.Second || ttl > 2*time.Minute {
		t.Fatalf("PTTL %v after touch, want ~2m", ttl)
	}
	if err := c.Delete(ctx, "id"); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := c.Load(ctx, "id", store.LoadOptions{}); found {
		t.Fatal("deleted record still loads")
	}
}
