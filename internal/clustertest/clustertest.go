// Package clustertest joins the two halves that tests, the demo and the
// benchmarks all need: a local topology of real redis-server processes
// (package redistest) and a cluster.Cluster over it; and a Redis Cluster
// with a rediscluster.Cluster over it.
package clustertest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/shard"
)

// ShardOptions describes top's shards for cluster.Options: each shard named
// as in the topology, with its primary and replica addresses.
func ShardOptions(top *redistest.Topology) []shard.Options {
	opts := make([]shard.Options, len(top.Shards))
	for i, s := range top.Shards {
		opts[i] = shard.Options{Name: s.Name, Addr: s.Primary.Addr()}
		for _, r := range s.Replicas {
			opts[i].Replicas = append(opts[i].Replicas, r.Addr())
		}
	}
	return opts
}

// New starts a topology and a Cluster over it; both are closed when the test
// ends.
func New(t testing.TB, opt redistest.TopologyOptions) (*cluster.Cluster, *redistest.Topology) {
	t.Helper()
	top := redistest.NewTopology(t, opt)
	c, err := cluster.New(cluster.Options{Shards: ShardOptions(top)})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, top
}

// SentinelShardOptions describes top's shards for cluster.Options by
// Sentinel master name (the shard name) and the topology's sentinels, so
// that the cluster follows failovers. top must have been started with
// Sentinels > 0.
func SentinelShardOptions(top *redistest.Topology) []shard.Options {
	names := make([]string, len(top.Shards))
	for i, s := range top.Shards {
		names[i] = s.Name
	}
	return SentinelShards(names, top.SentinelAddrs())
}

// SentinelShards describes shards found through the sentinels at
// sentinels, each under its own name as the master name.
func SentinelShards(names, sentinels []string) []shard.Options {
	opts := make([]shard.Options, len(names))
	for i, name := range names {
		opts[i] = shard.Options{Name: name, Sentinel: &failover.Options{MasterName: name, SentinelAddrs: sentinels}}
	}
	return opts
}

// NewSentinel starts a topology with sentinels and a Cluster over it that
// finds its primaries through them; both are closed when the test ends.
func NewSentinel(t testing.TB, topo redistest.TopologyOptions, opt cluster.Options) (*cluster.Cluster, *redistest.Topology) {
	t.Helper()
	top := redistest.NewTopology(t, topo)
	opt.Shards = SentinelShardOptions(top)
	c, err := cluster.New(opt)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, top
}

// NewNode is one more web node over top: its own Cluster (own connections)
// and a near cache in front of it, ready (its invalidation connections up).
// Both are closed when the test ends.
func NewNode(t testing.TB, top *redistest.Topology, opt cluster.NearCacheOptions) (*cluster.Cluster, *cluster.NearCache) {
	t.Helper()
	c, err := cluster.New(cluster.Options{Shards: ShardOptions(top)})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	nc, err := cluster.NewNearCache(c, opt)
	if err != nil {
		c.Close()
		t.Fatalf("cluster.NewNearCache: %v", err)
	}
	t.Cleanup(func() { nc.Close(); c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	return c, nc
}

// WaitReplicasHealthy waits until every replica of every shard of c serves
// reads (package replica's health checks have passed).
func WaitReplicasHealthy(t testing.TB, c *cluster.Cluster) {
	t.Helper()
	for _, sh := range c.Shards() {
		redistest.Eventually(t, 15*time.Second, func(context.Context) error {
			select {
			case <-sh.Reads().Checked(): // wakes a Set that sleeps; then its nodes are known
			default:
				return fmt.Errorf("shard %s: replicas not checked yet", sh.Name())
			}
			if n := sh.Reads().Healthy(); n != len(sh.Replicas()) {
				return fmt.Errorf("shard %s: %d of %d replicas healthy: %+v", sh.Name(), n, len(sh.Replicas()), sh.Reads().Status())
			}
			return nil
		})
	}
}

// HoldReplicas makes every replica of top stop applying its replication
// stream while it keeps answering reads (CLIENT PAUSE WRITE), until the
// returned func is called.
func HoldReplicas(t testing.TB, top *redistest.Topology) (release func()) {
	t.Helper()
	var servers []*redistest.Server
	for _, sh := range top.Shards {
		servers = append(servers, sh.Replicas...)
	}
	return HoldServers(t, servers)
}

// HoldServers is HoldReplicas for the replicas given: until the returned
// func is called, or the test ends, they answer reads but apply no write.
func HoldServers(t testing.TB, servers []*redistest.Server) (release func()) {
	t.Helper()
	for _, s := range servers {
		c := s.Client()
		err := c.Do(context.Background(), "CLIENT", "PAUSE", 300000, "WRITE").Err()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			for _, s := range servers {
				c := s.Client()
				c.Do(context.Background(), "CLIENT", "UNPAUSE")
				c.Close()
			}
		})
	}
	t.Cleanup(release)
	return release
}

// NewRedisCluster starts a Redis Cluster (package redistest) and a
// rediscluster.Cluster over it, with opt's settings and the nodes as seeds;
// both are closed when the test ends.
func NewRedisCluster(t testing.TB, rcopt redistest.RedisClusterOptions, opt rediscluster.Options) (*rediscluster.Cluster, *redistest.RedisCluster) {
	t.Helper()
	rc := redistest.NewRedisCluster(t, rcopt)
	opt.Addrs = rc.Addrs()
	c, err := rediscluster.New(opt)
	if err != nil {
		t.Fatalf("rediscluster.New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rc
}
