package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// clientKinds counts the connections CLIENT LIST shows on c's server: all,
// tracking connections (by their name) and other Pub/Sub subscribers.
func clientKinds(ctx context.Context, c *redis.Client) (all, tracking, subscribers int, err error) {
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		all++
		switch {
		case strings.Contains(line, " name=shardsession-tracking "):
			tracking++
		case strings.Contains(line, " sub=") && !strings.Contains(line, " sub=0 "):
			subscribers++
		}
	}
	return all, tracking, subscribers, nil
}

// lastCommands sums a CLIENT LIST by each connection's last command, the
// clue to which part of a node holds a connection too many.
func lastCommands(list string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		for _, f := range strings.Fields(line) {
			if cmd, ok := strings.CutPrefix(f, "cmd="); ok {
				out[cmd]++
			}
		}
	}
	return out
}

// A fleet of 20 web nodes, each built as the documentation recommends
// (Cluster, NearCache, Follow, and events watched through the NearCache)
// and serving requests one at a time, holds on each primary one tracking
// connection per node, which carries its events subscription too, at most
// two pooled connections per node, and none to a replica while every read
// goes to the primary — counted with CLIENT LIST.
func TestConnectionsPerNode(t *testing.T) {
	const nodes = 20
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var primaries, replicas []*redis.Client
	for _, sh := range top.Shards {
		primaries = append(primaries, sh.Primary.Client())
		for _, r := range sh.Replicas {
			replicas = append(replicas, r.Client())
		}
	}
	t.Cleanup(func() {
		for _, c := range append(primaries, replicas...) {
			c.Close()
		}
	})
	count := func(cs []*redis.Client) []int {
		out := make([]int, len(cs))
		for i, c := range cs {
			n, _, _, err := clientKinds(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = n
		}
		return out
	}
	beforeP, beforeR := count(primaries), count(replicas)

	for i := range nodes {
		c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top)})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fl, err := c.Follow(ctx, cluster.FollowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wctx, stop := context.WithCancel(context.Background())
		watched := make(chan struct{})
		go func() { defer close(watched); nc.Watch(wctx, func(store.Event) {}, nil) }()
		t.Cleanup(func() { stop(); <-watched; fl.Close(); nc.Close(); c.Close() })
		if err := nc.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		for j := range 30 { // requests one at a time, over every shard
			id := fmt.Sprintf("budget-%d-%d", i, j)
			if _, err := nc.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"v": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			if _, found, err := nc.Load(ctx, id, store.LoadOptions{}); err != nil || !found {
				t.Fatalf("load %s: found %v, %v", id, found, err)
			}
		}
	}

	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		for i, c := range primaries {
			all, tracking, subs, err := clientKinds(ctx, c)
			if err != nil {
				return err
			}
			pooled := all - beforeP[i] - tracking - subs
			if tracking != nodes || subs != 0 || pooled > 2*nodes {
				list, _ := c.ClientList(ctx).Result()
				return fmt.Errorf("primary %d: %d tracking, %d other subscribed, %d pooled connections for %d nodes; want %d, 0, at most %d; last commands: %v",
					i, tracking, subs, pooled, nodes, nodes, 2*nodes, lastCommands(list))
			}
		}
		return nil
	})
	t.Logf("connections per primary before the nodes: %v, after: %v", beforeP, count(primaries))
	for i, n := range count(replicas) {
		if n != beforeR[i] {
			t.Errorf("replica %d: %d connections, %d before the nodes started: want none from nodes that read from primaries only", i, n, beforeR[i])
		}
	}
}
