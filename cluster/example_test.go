package cluster_test

import (
	"fmt"
	"log"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

// A cluster of three shards, each a primary with one replica. New validates
// the options and builds the ring; go-redis dials on first use, so routing
// works before any shard is reached.
func ExampleNew() {
	c, err := cluster.New(cluster.Options{Shards: []shard.Options{
		{Name: "s0", Addr: "10.0.0.1:6379", Replicas: []string{"10.0.0.4:6379"}},
		{Name: "s1", Addr: "10.0.0.2:6379", Replicas: []string{"10.0.0.5:6379"}},
		{Name: "s2", Addr: "10.0.0.3:6379", Replicas: []string{"10.0.0.6:6379"}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(len(c.Shards()), "shards; the session", "a9f3", "lives on", c.Locate("a9f3"))
	// Output: 3 shards; the session a9f3 lives on s1
}
