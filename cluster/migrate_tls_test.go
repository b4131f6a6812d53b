package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// MIGRATE opens a connection of its own, from server to server: over
// TLS-only servers (tls-cluster yes) whose default user is off, a shard
// added to the ring gets its sessions with the AUTH of the client
// template's credentials provider.
func TestMigrateOverTLSWithCredentialsProvider(t *testing.T) {
	ctx := context.Background()
	certs, err := redistest.NewTLS(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, TLS: certs})
	for _, s := range top.Shards {
		for _, cmd := range [][]any{
			{"ACL", "SETUSER", "app", "on", ">rotating", "~*", "&*", "+@all"},
			{"ACL", "SETUSER", "default", "off"},
		} {
			c := s.Primary.Client()
			err := c.Do(ctx, cmd...).Err()
			c.Close()
			if err != nil {
				t.Fatalf("%s: %v: %v", s.Primary.Name, cmd, err)
			}
		}
	}
	opts := clustertest.ShardOptions(top)
	for i := range opts {
		opts[i].Client = &redis.Options{TLSConfig: certs.ClientConfig(),
			CredentialsProvider: func() (string, string) { return "app", "rotating" },
			DialTimeout:         time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	}
	c, err := cluster.New(cluster.Options{Shards: opts[:2]})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 300
	for i := range n {
		if err := write(ctx, c, fmt.Sprint("s-", i), store.Create, "v", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.AddShard(ctx, opts[2]); err != nil {
		t.Fatal(err)
	}
	p, err := c.Migrate(ctx, cluster.MigrateOptions{})
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if p.Moved == 0 || !p.Done {
		t.Fatalf("progress %+v: want keys moved and done", p)
	}
	if bad := misplaced(t, c); len(bad) > 0 {
		t.Fatalf("%d keys not on their owner after Migrate, e.g. %s", len(bad), bad[0])
	}
	for i := range n {
		if _, found, err := c.Load(ctx, fmt.Sprint("s-", i), store.LoadOptions{}); err != nil || !found {
			t.Fatalf("s-%d after Migrate: found=%v err=%v", i, found, err)
		}
	}
	t.Logf("%d of %d sessions moved to the new shard over TLS", p.Moved, n)
}
