package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
)

// Workload is what each run does: Concurrency clients send requests
// through the session middleware (net/http LoadAndSave, in process, no
// sockets between client and web node) for Duration, each with the cookie
// of one of Sessions stored sessions picked at random. A request reads the
// session (Reads of them) or changes one of its values.
type Workload struct {
	// Sessions is how many sessions are stored and used. Default 1000.
	Sessions int `json:"sessions"`
	// Concurrency is the number of requests in flight. Default 64.
	Concurrency int `json:"concurrency"`
	// Reads is the fraction of requests that only read their session; the
	// others Put one value. 0 means every request writes.
	Reads float64 `json:"reads"`
	// ValueSize is the encoded size of a session's values, spread over four
	// values. Default 1024.
	ValueSize int `json:"value_size"`
	// Duration of the measured run. Default 2 s.
	Duration time.Duration `json:"duration_ns"`
	// HTTP sends the requests over real loopback connections (an
	// httptest.Server and a keep-alive client, one connection per request
	// in flight) instead of calling the handler in process.
	HTTP bool `json:"http,omitempty"`
}

func (w *Workload) init() {
	if w.Sessions <= 0 {
		w.Sessions = 1000
	}
	if w.Concurrency <= 0 {
		w.Concurrency = 64
	}
	if w.ValueSize <= 0 {
		w.ValueSize = 1024
	}
	if w.Duration <= 0 {
		w.Duration = 2 * time.Second
	}
}

// Result is one store's run of one workload.
type Result struct {
	Store       string  `json:"store"`
	Concurrency int     `json:"concurrency"`
	Reads       float64 `json:"reads"`
	Requests    int64   `json:"requests"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	Seconds     float64 `json:"seconds"`
	PerSecond   float64 `json:"requests_per_second"`
	// Latencies of one request through the middleware, in microseconds.
	P50  float64 `json:"p50_us"`
	P99  float64 `json:"p99_us"`
	P999 float64 `json:"p999_us"`
	// CacheHitRate is the near cache's hit rate during the run, if any.
	CacheHitRate float64 `json:"cache_hit_rate,omitempty"`
}

// valueKeys are the four values of a benchmark session.
var valueKeys = []string{"user", "role", "cart", "prefs"}

// CookieName is the session cookie of the harness's Managers.
const CookieName = "session"

// Seed stores n sessions of size bytes (over four values) in store and
// returns their cookies' tokens. With no Manager (None) the tokens are
// random strings of a token's length, for the requests to carry.
func Seed(ctx context.Context, m *session.Manager, n, size int) ([]string, error) {
	value := strings.Repeat("v", max(1, size/len(valueKeys)))
	tokens := make([]string, n)
	if m == nil {
		for i := range tokens {
			tokens[i] = strconv.FormatUint(rand.Uint64(), 36) + strings.Repeat("t", 30)
		}
		return tokens, nil
	}
	for i := range tokens {
		sctx, err := m.Load(ctx, "")
		if err != nil {
			return nil, err
		}
		for _, k := range valueKeys {
			m.Put(sctx, k, value)
		}
		if tokens[i], _, err = m.Commit(sctx); err != nil {
			return nil, fmt.Errorf("bench: seed: %w", err)
		}
	}
	return tokens, nil
}

// Manager returns a session Manager over store as the harness uses it:
// defaults, but a cookie that works without TLS. No store (None), no
// Manager.
func Manager(store session.Store) *session.Manager {
	if store == nil {
		return nil
	}
	m := session.New(store)
	m.Cookie.Name, m.Cookie.Secure = CookieName, false
	return m
}

// Handler is the web handler under test: a read request fails unless its
// session is there; a write request changes the "cart" value. With no
// Manager (None) it is the same handler without sessions: it answers 200.
func Handler(m *session.Manager, size int) http.Handler {
	if m == nil {
		return http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	}
	cart := strings.Repeat("c", max(1, size/len(valueKeys)))
	return m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/write" {
			m.Put(r.Context(), "cart", cart)
			return
		}
		if m.GetString(r.Context(), "user") == "" {
			http.Error(w, "lost session", http.StatusInternalServerError)
		}
	}))
}

// Run runs w against m (its sessions seeded as tokens) and measures it. A
// nil m (None) runs the same requests with no session middleware.
func Run(ctx context.Context, name string, m *session.Manager, tokens []string, w Workload) (Result, error) {
	w.init()
	if len(tokens) == 0 {
		return Result{}, errors.New("bench: no sessions to use")
	}
	send, closeSend := sender(Handler(m, w.ValueSize), w)
	defer closeSend()
	var stats func() cluster.NearCacheStats
	if m != nil {
		if nc, ok := m.Store.(interface{ Stats() cluster.NearCacheStats }); ok { // either near cache
			stats = nc.Stats
		}
	}
	var before cluster.NearCacheStats
	if stats != nil {
		before = stats()
	}

	// A request started before the end of the run is finished and counted
	// (reqCtx outlives the run): under load a run shorter than one request
	// would otherwise count none.
	reqCtx := context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, w.Duration)
	defer cancel()
	var (
		requests, errs atomic.Int64
		firstErr       atomic.Value
		mu             sync.Mutex
		hist           = newHistogram()
		wg             sync.WaitGroup
	)
	start := time.Now()
	for range w.Concurrency {
		wg.Go(func() {
			own := newHistogram()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for ctx.Err() == nil {
				path := "/read"
				if rng.Float64() >= w.Reads {
					path = "/write"
				}
				t0 := time.Now()
				code, body, err := send(reqCtx, path, tokens[rng.IntN(len(tokens))])
				own.RecordValue(max(1, time.Since(t0).Microseconds()))
				requests.Add(1)
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					if err != nil {
						body = err.Error()
					}
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: %d %s", path, code, strings.TrimSpace(body)))
				}
			}
			mu.Lock()
			hist.Merge(own)
			mu.Unlock()
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := Result{
		Store: name, Concurrency: w.Concurrency, Reads: w.Reads,
		Requests: requests.Load(), Errors: errs.Load(), Seconds: secs,
		PerSecond: float64(requests.Load()) / secs,
		P50:       float64(hist.ValueAtQuantile(50)),
		P99:       float64(hist.ValueAtQuantile(99)),
		P999:      float64(hist.ValueAtQuantile(99.9)),
	}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	if stats != nil {
		after := stats()
		if n := (after.Hits + after.Misses) - (before.Hits + before.Misses); n > 0 {
			r.CacheHitRate = float64(after.Hits-before.Hits) / float64(n)
		}
	}
	return r, nil
}

// sendFunc sends one request for path with the session cookie token and
// returns the answer's status and body.
type sendFunc func(ctx context.Context, path, token string) (code int, body string, err error)

// sender returns how w's requests reach h: in process (an httptest request
// and recorder, no sockets), or with w.HTTP over loopback connections to a
// server it starts (stopped by the returned func).
func sender(h http.Handler, w Workload) (sendFunc, func()) {
	if !w.HTTP {
		return func(_ context.Context, path, token string) (int, string, error) {
			req := httptest.NewRequest("GET", path, nil)
			req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String(), nil
		}, func() {}
	}
	srv := httptest.NewServer(h)
	tr := &http.Transport{MaxIdleConns: w.Concurrency, MaxIdleConnsPerHost: w.Concurrency}
	client := &http.Client{Transport: tr}
	return func(ctx context.Context, path, token string) (int, string, error) {
			req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
			if err != nil {
				return 0, "", err
			}
			req.AddCookie(&http.Cookie{Name: CookieName, Value: token})
			resp, err := client.Do(req)
			if err != nil {
				return 0, "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b), err
		}, func() {
			tr.CloseIdleConnections()
			srv.Close()
		}
}

// newHistogram records latencies from 1 µs to 60 s at 3 significant digits.
func newHistogram() *hdrhistogram.Histogram { return hdrhistogram.New(1, 60_000_000, 3) }
