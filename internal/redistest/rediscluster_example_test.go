package redistest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/shardsession/shardsession/internal/redistest"
)

// StartRedisCluster runs a Redis Cluster of 3 masters and 3 replicas and
// waits until it serves every slot.
func ExampleStartRedisCluster() {
	ctx := context.Background()
	rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer rc.Close()

	c := rc.Client()
	defer c.Close()
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		log.Fatal(err)
	}
	masters, err := rc.Masters(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(rc.Nodes), len(masters), c.Get(ctx, "greeting").Val())
	// Output: 6 3 hello
}
