package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

func TestNewRejectsBadTopology(t *testing.T) {
	tests := []struct {
		name   string
		shards []shard.Options
	}{
		{"no shards", nil},
		{"duplicate names", []shard.Options{{Name: "a", Addr: "127.0.0.1:1"}, {Name: "a", Addr: "127.0.0.1:2"}}},
		{"unnamed shard", []shard.Options{{Addr: "127.0.0.1:1"}}},
		{"no address", []shard.Options{{Name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cluster.New(cluster.Options{Shards: tt.shards}); err == nil {
				t.Fatal("New accepted a bad topology")
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
