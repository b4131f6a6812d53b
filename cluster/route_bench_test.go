package cluster_test

import (
	"fmt"
	"testing"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

// BenchmarkShardFor measures routing one session ID to its shard. go-redis
// dials lazily, so the shards' addresses are never contacted. Run with
// -cpu 1,2 to see it scale: the table is an immutable snapshot read through
// an atomic pointer, with no lock to contend on.
func BenchmarkShardFor(b *testing.B) {
	for _, tt := range []struct{ shards, partitions int }{{3, 0}, {1000, 7919}} {
		b.Run(fmt.Sprintf("shards=%d", tt.shards), func(b *testing.B) {
			opts := make([]shard.Options, tt.shards)
			for i := range opts {
				opts[i] = shard.Options{Name: fmt.Sprintf("s%d", i), Addr: fmt.Sprintf("127.0.0.1:%d", 10000+i)}
			}
			c, err := cluster.New(cluster.Options{Shards: opts, Ring: cluster.RingOptions{PartitionCount: tt.partitions}})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ids := make([]string, 1024)
			for i := range ids {
				ids[i] = fmt.Sprintf("%064x", i*7919)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if c.ShardFor(ids[i&1023]) == nil {
						b.Fatal("no shard")
					}
					i++
				}
			})
		})
	}
}
