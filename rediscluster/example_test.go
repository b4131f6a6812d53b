package rediscluster_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/store"
)

// A store on a Redis Cluster of three masters and three replicas. Addrs
// are seeds: the client learns every node and slot from them. Client is a
// template for the go-redis client (credentials, TLS, pool, timeouts).
func ExampleNew() {
	rc, err := redistest.StartRedisCluster(context.Background(), redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()

	c, err := rediscluster.New(rediscluster.Options{
		Addrs:  rc.Addrs()[:1],
		Client: &redis.ClusterOptions{PoolSize: 20, ReadTimeout: time.Second},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	v, err := c.Save(ctx, "a9f3", store.Write{Mode: store.Create, Set: map[string][]byte{"v:user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	fields, found, err := c.Load(ctx, "a9f3", store.LoadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v, found, fields["v:user"], c.Delete(ctx, "a9f3"))
	// Output: 1 true ada <nil>
}

// A web node keeps the sessions it serves decoded in memory, in front of
// a Redis Cluster: each master tells this node, and only the nodes that
// hold a session, when it changes.
func ExampleNewNearCache() {
	rc, err := redistest.StartRedisCluster(context.Background(), redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()
	c, err := rediscluster.New(rediscluster.Options{Addrs: rc.Addrs()[:1]})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	nc, err := rediscluster.NewNearCache(c, rediscluster.NearCacheOptions{MaxEntries: 500_000, MaxBytes: 512 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close() // before the cluster
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		log.Print(err) // serving works meanwhile, uncached
	}

	// session.New(nc) loads through the cache; here, by hand:
	if _, err := nc.Save(ctx, "b7e1", store.Write{Mode: store.Create, Set: map[string][]byte{"v:user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		log.Fatal(err)
	}
	user := func(fields map[string]string) (any, int, error) { return fields["v:user"], len(fields["v:user"]), nil }
	v, found, err := nc.LoadDecoded(ctx, "b7e1", "example", 0, user)
	fmt.Println(v, found, err, nc.Stats().Hits)
	// Output: ada true <nil> 1
}
