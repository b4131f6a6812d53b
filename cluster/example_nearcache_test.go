package cluster_test

import (
	"context"
	"log"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/shard"
)

// A web node keeps the sessions it serves decoded in memory; every node's
// cache drops a session as soon as Redis reports it changed.
func ExampleNewNearCache() {
	c, err := cluster.New(cluster.Options{Shards: []shard.Options{
		{Name: "s0", Addr: "10.0.0.1:6379"},
		{Name: "s1", Addr: "10.0.0.2:6379"},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{MaxEntries: 500_000, MaxBytes: 512 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close() // before the cluster
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		log.Print(err) // serving works meanwhile, uncached
	}
	m := session.New(nc) // loads through the cache, saves through the cluster
	_ = m
}
