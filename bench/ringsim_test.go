package bench_test

import (
	"strconv"
	"testing"

	"github.com/shardsession/shardsession/bench"
)

// BenchmarkRingQuality is the scale simulation of docs/benchmarks.md: for
// each size it reports max/mean load by keys, keys moved on add and remove
// over the ideal 1/(n+1), and the time to build the ring.
//
//	go test -run '^$' -bench RingQuality -benchtime 1x ./bench
func BenchmarkRingQuality(b *testing.B) {
	keys := bench.SimulationKeys(200_000)
	for _, n := range []int{3, 10, 100, 1000} {
		b.Run("shards="+strconv.Itoa(n), func(b *testing.B) {
			var q bench.RingQuality
			for b.Loop() {
				var err error
				if q, err = bench.SimulateRing(n, keys); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(q.MaxMean, "max/mean")
			b.ReportMetric(q.Added, "added/ideal")
			b.ReportMetric(q.Removed, "removed/ideal")
			b.ReportMetric(float64(q.Build.Milliseconds()), "build-ms")
			b.Logf("%v", q)
		})
	}
}

// The quality targets hold at the sizes where the simulation meets them
// (see docs/benchmarks.md for 100 and 1000 shards). The numbers are
// deterministic: same keys, same names, same ring.
func TestRingQualitySmall(t *testing.T) {
	keys := bench.SimulationKeys(200_000)
	for _, n := range []int{3, 10} {
		q, err := bench.SimulateRing(n, keys)
		if err != nil {
			t.Fatal(err)
		}
		if q.MaxMean > 1.25 || q.Added > 1.2 || q.Removed > 1.2 {
			t.Errorf("%d shards: %v misses max/mean ≤ 1.25, moved ≤ 1.2× ideal", n, q)
		}
	}
}
