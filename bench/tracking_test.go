package bench_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

// BenchmarkTrackingTable measures what a near cache's reads cost a
// primary's memory: b.N sessions, each read by every one of `nodes`
// default-mode tracking connections, as that many nodes' near caches
// read them. Reported: the growth of used_memory per tracked item (a
// node remembered as holding a session) and per session. Redis keeps an
// item until the session is next written, deleted or expires.
func BenchmarkTrackingTable(b *testing.B) {
	top := redistest.NewTopology(b, redistest.TopologyOptions{Shards: 1})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	admin := redis.NewClient(&redis.Options{Addr: top.Shards[0].Primary.Addr()})
	defer admin.Close()
	ctx := context.Background()
	for _, nodes := range []int{1, 8} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			b.StopTimer()
			if err := admin.FlushAll(ctx).Err(); err != nil { // and the tracking table with it
				b.Fatal(err)
			}
			if _, err := bench.Seed(ctx, bench.Manager(c), b.N, 1024); err != nil {
				b.Fatal(err)
			}
			keys, err := admin.Keys(ctx, c.Key("*")).Result()
			if err != nil || len(keys) != b.N {
				b.Fatalf("%d session keys (%v), want %d", len(keys), err, b.N)
			}
			before := memoryInfo(b, admin)
			for range nodes {
				conn := top.Shards[0].Primary.NewTracker(b)
				b.StartTimer()
				for start := 0; start < len(keys); start += 1000 {
					p := conn.Pipeline()
					for _, k := range keys[start:min(start+1000, len(keys))] {
						p.HGetAll(ctx, k)
					}
					if _, err := p.Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
			}
			after := memoryInfo(b, admin)
			items := after["tracking_total_items"] - before["tracking_total_items"]
			if want := float64(nodes * b.N); items != want {
				b.Fatalf("%.0f items tracked, want %.0f", items, want)
			}
			grown := after["used_memory"] - before["used_memory"]
			b.ReportMetric(grown/items, "B/item")
			b.ReportMetric(grown/float64(b.N), "B/session")
		})
	}
}

// memoryInfo returns the numeric fields of a server's INFO memory and
// stats.
func memoryInfo(b *testing.B, c *redis.Client) map[string]float64 {
	text, err := c.Info(context.Background(), "memory", "stats").Result()
	if err != nil {
		b.Fatal(err)
	}
	return bench.InfoNumbers(text)
}
