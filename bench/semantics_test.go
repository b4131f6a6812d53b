package bench_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
)

// BenchmarkSaveConcurrency prices the lost-update protections on the write
// path, side by side with the Ring baseline and shardsession's default
// (delta saves, last write of a key wins): every request changes one value
// of a random one of 1,000 sessions, 64 in flight. Optimistic saves are
// compare-and-set in the same script (conflicts, answered 409, are counted
// as conflicts/op); locked requests take and free the session's lock
// around the load and save.
//
//	go test -run xxx -bench SaveConcurrency -benchtime 4s ./bench
func BenchmarkSaveConcurrency(b *testing.B) {
	top := redistest.NewTopology(b, redistest.TopologyOptions{Shards: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := bench.OpenStores(ctx, cluster.Options{Shards: clustertest.ShardOptions(top)}, []string{bench.Ring, bench.Cluster})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })

	cart := strings.Repeat("c", valueSize/4)
	modes := []struct {
		name  string
		store string
		setup func(m *session.Manager, h http.Handler) http.Handler
	}{
		{"store=ring", bench.Ring, nil},
		{"store=shardsession/mode=delta", bench.Cluster, nil},
		{"store=shardsession/mode=optimistic", bench.Cluster, func(m *session.Manager, h http.Handler) http.Handler {
			m.Optimistic = true
			return m.LoadAndSave(h)
		}},
		{"store=shardsession/mode=locked", bench.Cluster, func(m *session.Manager, h http.Handler) http.Handler {
			return m.LoadAndSaveLocked(h)
		}},
	}
	for _, mode := range modes {
		b.Run(mode.name, func(b *testing.B) {
			m := bench.Manager(s.Get(mode.store))
			m.Logger = nil
			m.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
				http.Error(w, err.Error(), http.StatusConflict)
			}
			tokens, err := bench.Seed(context.Background(), m, sessions, valueSize)
			if err != nil {
				b.Fatal(err)
			}
			inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.Put(r.Context(), "cart", cart) })
			var h http.Handler = m.LoadAndSave(inner)
			if mode.setup != nil {
				h = mode.setup(m, inner)
			}
			var conflicts atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(max(1, concurrency/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("GET", "/write", nil)
					req.AddCookie(&http.Cookie{Name: bench.CookieName, Value: tokens[rand.IntN(len(tokens))]})
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					switch rec.Code {
					case http.StatusOK:
					case http.StatusConflict:
						conflicts.Add(1)
					default:
						b.Errorf("status %d: %s", rec.Code, rec.Body)
						return
					}
				}
			})
			b.ReportMetric(float64(conflicts.Load())/float64(b.N), "conflicts/op")
		})
	}
}
