package session_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A request with a 200 ms deadline to a shard whose primary is frozen
// (SIGSTOP) gets its 503 within 250 ms, while requests for sessions on the
// other shards are served meanwhile.
func TestRequestDeadlineWithFrozenPrimary(t *testing.T) {
	m, _, top := newManager(t)
	ctx := context.Background()
	tokens := map[string]string{} // shard → a token stored there
	for len(tokens) < len(top.Shards) {
		sctx, _ := m.Load(ctx, "")
		m.Put(sctx, "user", "ada")
		token, _, err := m.Commit(sctx)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := m.Shard(sctx)
		tokens[name] = token
	}
	const deadline, bound = 200 * time.Millisecond, 250 * time.Millisecond
	withDeadline := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), deadline)
			defer cancel()
			h.ServeHTTP(w, r.WithContext(ctx))
		})
	}
	srv := httptest.NewServer(withDeadline(app(m)))
	defer srv.Close()
	get := func(token string) (status int, body string, took time.Duration) {
		req, _ := http.NewRequest("GET", srv.URL+"/get?k=user", nil)
		req.Header.Set("Cookie", "session="+token)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, "", time.Since(start)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b), time.Since(start)
	}
	frozen := top.Shards[1]
	if err := frozen.Primary.Pause(); err != nil {
		t.Fatal(err)
	}
	defer frozen.Primary.Resume()
	var worst time.Duration
	for round := range 3 {
		var wg sync.WaitGroup
		for name, token := range tokens {
			if name == frozen.Name {
				continue
			}
			wg.Go(func() {
				if status, body, _ := get(token); status != http.StatusOK || body != "ada" {
					t.Errorf("round %d: shard %s, not frozen: status %d, body %q", round, name, status, body)
				}
			})
		}
		status, _, took := get(tokens[frozen.Name])
		wg.Wait()
		worst = max(worst, took)
		if status != http.StatusServiceUnavailable || took > bound {
			t.Errorf("round %d: request on the frozen shard: status %d after %v, want 503 within %v", round, status, took, bound)
		}
	}
	t.Logf("slowest request to the frozen shard with a %v deadline: %v", deadline, worst)
}
