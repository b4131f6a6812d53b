package bench_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
)

const (
	sessions    = 1000
	concurrency = 64 // requests in flight, as in the project's targets
)

// stores returns the stores to compare, over one shared topology of 3
// shards: shardsession's cluster, with and without its near cache, and the
// baseline Ring.
func stores(b *testing.B) map[string]session.Store {
	c, top := clustertest.New(b, redistest.TopologyOptions{Shards: 3})
	addrs := map[string]string{}
	for _, s := range top.Shards {
		addrs[s.Name] = s.Primary.Addr()
	}
	ring := bench.NewRingStore(addrs)
	b.Cleanup(func() { ring.Close() })
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nc.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	return map[string]session.Store{"shardsession": c, "shardsession+nearcache": nc, "ring": ring}
}

// seed stores n sessions of four 256-byte values (1 KiB) and returns their
// tokens.
func seed(b *testing.B, m *session.Manager, n int) []string {
	value := strings.Repeat("v", 256)
	tokens := make([]string, n)
	for i := range tokens {
		ctx, err := m.Load(context.Background(), "")
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range []string{"user", "role", "cart", "prefs"} {
			m.Put(ctx, k, value)
		}
		if tokens[i], _, err = m.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	return tokens
}

// serve runs requests through m's middleware in parallel, each with the
// cookie of a random seeded session, and fails on any non-200 answer.
func serve(b *testing.B, m *session.Manager, h http.HandlerFunc) {
	tokens := seed(b, m, sessions)
	handler := m.LoadAndSave(h)
	b.ReportAllocs()
	b.SetParallelism(max(1, concurrency/runtimeProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: m.Cookie.Name, Value: tokens[rand.IntN(len(tokens))]})
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("status %d: %s", rec.Code, rec.Body)
				return
			}
		}
	})
}

// BenchmarkMiddlewareLoad: every request reads its session, changes nothing.
func BenchmarkMiddlewareLoad(b *testing.B) {
	for name, store := range stores(b) {
		b.Run("store="+name, func(b *testing.B) {
			m := session.New(store)
			serve(b, m, func(w http.ResponseWriter, r *http.Request) {
				if m.GetString(r.Context(), "user") == "" {
					http.Error(w, "lost session", http.StatusInternalServerError)
				}
			})
		})
	}
}

// BenchmarkMiddlewareSave: every request changes one value of its session.
func BenchmarkMiddlewareSave(b *testing.B) {
	for name, store := range stores(b) {
		b.Run("store="+name, func(b *testing.B) {
			m := session.New(store)
			serve(b, m, func(w http.ResponseWriter, r *http.Request) {
				m.Put(r.Context(), "cart", strings.Repeat("c", 256))
			})
		})
	}
}
