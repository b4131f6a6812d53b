package bench_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

const (
	sessions    = 1000
	valueSize   = 1024
	concurrency = 64 // requests in flight, as in the project's targets
)

// stores opens every store of the harness over one shared topology of 3
// shards.
func stores(b *testing.B) *bench.Stores {
	top := redistest.NewTopology(b, redistest.TopologyOptions{Shards: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bench.OpenStores(ctx, cluster.Options{Shards: clustertest.ShardOptions(top)}, bench.StoreNames)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// serve runs requests to path through the middleware of a Manager over
// each store, in parallel, each with the cookie of a random seeded
// session, and fails on any non-200 answer.
func serve(b *testing.B, path string) {
	s := stores(b)
	for _, name := range s.Names() {
		b.Run("store="+name, func(b *testing.B) {
			m := bench.Manager(s.Get(name))
			tokens, err := bench.Seed(context.Background(), m, sessions, valueSize)
			if err != nil {
				b.Fatal(err)
			}
			handler := bench.Handler(m, valueSize)
			b.ReportAllocs()
			b.SetParallelism(max(1, concurrency/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", path, nil)
					req.AddCookie(&http.Cookie{Name: bench.CookieName, Value: tokens[rand.IntN(len(tokens))]})
					rec := httptest.NewRecorder()
					handler.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
		})
	}
}

// BenchmarkMiddlewareLoad: every request reads its session, changes nothing.
func BenchmarkMiddlewareLoad(b *testing.B) { serve(b, "/read") }

// BenchmarkMiddlewareSave: every request changes one value of its session.
func BenchmarkMiddlewareSave(b *testing.B) { serve(b, "/write") }

// BenchmarkStoreLoad measures the stores' loads alone, without the
// middleware: the near cache's LoadDecoded (no decode on a hit) against
// rueidis DoCache and the Ring's HGETALL of the same 1 KiB hashes.
func BenchmarkStoreLoad(b *testing.B) {
	s := stores(b)
	for _, name := range []string{bench.Ring, bench.Rueidis, bench.NearCache} {
		b.Run("store="+name, func(b *testing.B) {
			st := s.Get(name)
			m := bench.Manager(st)
			tokens, err := bench.Seed(context.Background(), m, sessions, valueSize)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]string, len(tokens))
			for i, t := range tokens {
				ctx, err := m.Load(context.Background(), t)
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = m.ID(ctx)
			}
			decode := func(f map[string]string) (any, int, error) { return f, len(f), nil }
			nc, _ := st.(*cluster.NearCache)
			b.ReportAllocs()
			b.SetParallelism(max(1, concurrency/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					id := ids[rand.IntN(len(ids))]
					var found bool
					var err error
					if nc != nil {
						_, found, err = nc.LoadDecoded(ctx, id, m, 0, decode)
					} else {
						_, found, err = st.Load(ctx, id, store.LoadOptions{})
					}
					if err != nil || !found {
						b.Errorf("load %s: %v, found %v", id, err, found)
						return
					}
				}
			})
		})
	}
}
