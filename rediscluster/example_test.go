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
