package redistest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/shardsession/shardsession/internal/redistest"
)

// Start runs one redis-server outside of a test, as the CLI demo does.
func ExampleStart() {
	ctx := context.Background()
	s, err := redistest.Start(ctx, redistest.Options{Name: "demo"})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	c := s.Client()
	defer c.Close()
	if err := c.Set(ctx, "greeting", "hello", 0).Err(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.Get(ctx, "greeting").Val())
	// Output: hello
}

// StartTopology runs several shards; with Sentinels > 0 it also starts
// sentinels that watch every shard's primary under the shard's name.
func ExampleStartTopology() {
	top, err := redistest.StartTopology(context.Background(), redistest.TopologyOptions{Shards: 2})
	if err != nil {
		log.Fatal(err)
	}
	defer top.Close()

	for _, sh := range top.Shards {
		fmt.Println(sh.Name, len(sh.Replicas))
	}
	// Output:
	// s0 0
	// s1 0
}
