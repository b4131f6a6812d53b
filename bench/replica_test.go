package bench_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
)

// BenchmarkReplicaLoad compares read policies side by side on one topology
// of 3 shards × (1 primary + 2 replicas), through the middleware, with
// signed tokens (so that replica reads are allowed):
//
//   - workload=read: every request reads a random seeded session;
//   - workload=write-read: every iteration writes a session and reads it
//     back at once with the token the write returned, the worst case for
//     read-your-writes; stale-retries/read is the share of replica answers
//     found older than the client's version and retried on the primary.
//
// Run: go test -run xxx -bench ReplicaLoad -benchtime 4s ./bench
func BenchmarkReplicaLoad(b *testing.B) {
	top := redistest.NewTopology(b, redistest.TopologyOptions{Shards: 3, Replicas: 2})
	key := bytes.Repeat([]byte("k"), 32)
	for _, policy := range []replica.Policy{replica.PrimaryOnly, replica.ReplicaPreferred} {
		c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top), Replica: replica.Options{Policy: policy}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		clustertest.WaitReplicasHealthy(b, c)
		m := bench.Manager(c)
		m.SigningKeys = [][]byte{key}
		tokens, err := bench.Seed(context.Background(), m, sessions, valueSize)
		if err != nil {
			b.Fatal(err)
		}
		handler := bench.Handler(m, valueSize)
		do := func(path, token string) (string, bool) {
			req := httptest.NewRequest("GET", path, nil)
			req.AddCookie(&http.Cookie{Name: bench.CookieName, Value: token})
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Errorf("%s: status %d: %s", path, rec.Code, rec.Body)
				return "", false
			}
			for _, ck := range rec.Result().Cookies() {
				if ck.Name == m.Cookie.Name {
					return ck.Value, true
				}
			}
			return token, true
		}
		run := func(b *testing.B, iteration func(token string) bool) {
			before := c.ReadStats()
			b.ReportAllocs()
			b.SetParallelism(max(1, concurrency/runtimeProcs()))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if !iteration(tokens[rand.IntN(len(tokens))]) {
						return
					}
				}
			})
			b.StopTimer()
			st := c.ReadStats()
			reads := float64(st.PrimaryReads + st.ReplicaReads - before.PrimaryReads - before.ReplicaReads)
			if reads > 0 {
				b.ReportMetric(float64(st.ReplicaReads-before.ReplicaReads)/reads, "replica-reads/read")
				b.ReportMetric(float64(st.StaleRetries-before.StaleRetries)/reads, "stale-retries/read")
			}
		}
		b.Run("workload=read/policy="+policy.String(), func(b *testing.B) {
			run(b, func(token string) bool {
				_, ok := do("/read", token)
				return ok
			})
		})
		b.Run("workload=write-read/policy="+policy.String(), func(b *testing.B) {
			run(b, func(token string) bool {
				// Sessions are shared by the parallel workers: a write
				// returns the newest token, read back at once.
				next, ok := do("/write", token)
				if ok {
					_, ok = do("/read", next)
				}
				return ok
			})
		})
	}
}
