package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// newSession saves a session holding vals and returns its token.
func newSession(t *testing.T, m *session.Manager, vals map[string]any) string {
	t.Helper()
	ctx, err := m.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		m.Put(ctx, k, v)
	}
	token, _, err := m.Commit(ctx)
	if err != nil || token == "" {
		t.Fatalf("commit = %q, %v", token, err)
	}
	return token
}

// load returns the session of token, failing the test on error.
func load(t *testing.T, m *session.Manager, token string) context.Context {
	t.Helper()
	ctx, err := m.Load(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// Acceptance: 50 concurrent requests of one user, each adding a different
// key, all survive (delta saves: each writes only its own field).
func TestConcurrentRequestsAddingKeysAllSurvive(t *testing.T) {
	m, _, _ := newManager(t)
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	token := newSession(t, m, map[string]any{"user": "ada"})

	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/put?k=k%d&v=%d", srv.URL, i, i), nil)
			req.AddCookie(&http.Cookie{Name: "session", Value: token})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("request %d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	ctx := load(t, m, token)
	for i := range n {
		if got := m.GetString(ctx, fmt.Sprintf("k%d", i)); got != fmt.Sprint(i) {
			t.Errorf("key k%d = %q after concurrent saves, want %q (lost update)", i, got, fmt.Sprint(i))
		}
	}
	if got := m.GetString(ctx, "user"); got != "ada" {
		t.Fatalf("user = %q", got)
	}
}

// Acceptance: with Optimistic, concurrent read-modify-writes of one key
// either succeed or fail with ErrConflict; no write is lost silently.
func TestOptimisticEveryLostWriteIsReported(t *testing.T) {
	m, _, _ := newManager(t)
	m.Optimistic = true
	token := newSession(t, m, map[string]any{"n": 0})

	const n = 50
	t.Run("all loaded before any commit", func(t *testing.T) {
		// Every request reads version v; exactly one compare-and-set can win.
		ctxs := make([]context.Context, n)
		for i := range ctxs {
			ctxs[i] = load(t, m, token)
			m.Put(ctxs[i], "n", m.GetInt(ctxs[i], "n")+1)
			m.Put(ctxs[i], "writer", i)
		}
		ok, conflicts := commitAll(t, m, ctxs)
		if ok != 1 || conflicts != n-1 {
			t.Fatalf("%d commits succeeded, %d conflicted; want 1 and %d", ok, conflicts, n-1)
		}
		if got := m.GetInt(load(t, m, token), "n"); got != 1 {
			t.Fatalf("n = %d, want 1", got)
		}
	})
	t.Run("interleaved", func(t *testing.T) {
		before := m.GetInt(load(t, m, token), "n")
		var wg sync.WaitGroup
		var ok, conflicts atomic.Int64
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, err := m.Load(context.Background(), token)
				if err != nil {
					t.Error(err)
					return
				}
				m.Put(ctx, "n", m.GetInt(ctx, "n")+1)
				switch _, _, err := m.Commit(ctx); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, session.ErrConflict):
					conflicts.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		after := m.GetInt(load(t, m, token), "n")
		// Every increment that reported success is in the counter, and
		// every one that is not was reported as a conflict.
		if int64(after-before) != ok.Load() || ok.Load()+conflicts.Load() != n {
			t.Fatalf("counter +%d, %d successes, %d conflicts of %d", after-before, ok.Load(), conflicts.Load(), n)
		}
		t.Logf("%d successes, %d conflicts", ok.Load(), conflicts.Load())
	})
	t.Run("conflict is 409 through the middleware", func(t *testing.T) {
		srv := httptest.NewServer(m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Another request saves the same session meanwhile.
			other := load(t, m, token)
			m.Put(other, "other", "x")
			if _, _, err := m.Commit(other); err != nil {
				t.Error(err)
			}
			m.Put(r.Context(), "mine", "y")
		})))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL, nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict {
			t.Fatalf("status %d, want 409", resp.StatusCode)
		}
	})
}

func commitAll(t *testing.T, m *session.Manager, ctxs []context.Context) (ok, conflicts int) {
	t.Helper()
	var wg sync.WaitGroup
	var nok, nconf atomic.Int64
	for _, ctx := range ctxs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch _, _, err := m.Commit(ctx); {
			case err == nil:
				nok.Add(1)
			case errors.Is(err, session.ErrConflict) && errors.Is(err, store.ErrConflict):
				nconf.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	return int(nok.Load()), int(nconf.Load())
}

// Merge resolves conflicts: each of several concurrent writers adds its own
// key with a compare-and-set, and a union merge keeps them all.
func TestOptimisticMerge(t *testing.T) {
	m, _, _ := newManager(t)
	m.Optimistic = true
	var merges atomic.Int64
	m.Merge = func(stored, mine map[string]any) map[string]any {
		merges.Add(1)
		for k, v := range mine {
			stored[k] = v
		}
		return stored
	}
	token := newSession(t, m, map[string]any{"base": 1})
	const n = 5 // every writer wins within 5 attempts: each loss is another's win
	ctxs := make([]context.Context, n)
	for i := range ctxs {
		ctxs[i] = load(t, m, token)
		m.Put(ctxs[i], fmt.Sprintf("k%d", i), i)
	}
	if ok, conflicts := commitAll(t, m, ctxs); ok != n || conflicts != 0 {
		t.Fatalf("%d ok, %d conflicts; want %d, 0", ok, conflicts, n)
	}
	ctx := load(t, m, token)
	if keys := m.Keys(ctx); len(keys) != n+1 {
		t.Fatalf("keys after merged writes: %v", keys)
	}
	if merges.Load() == 0 {
		t.Fatal("Merge never called")
	}
}

// MaxFields is a limit like MaxSize: ErrTooLarge, nothing written.
func TestMaxFields(t *testing.T) {
	m, _, top := newManager(t)
	m.MaxFields = 3
	ctx := load(t, m, "")
	for i := range 4 {
		m.Put(ctx, fmt.Sprint(i), i)
	}
	if _, _, err := m.Commit(ctx); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("commit of 4 values = %v, want ErrTooLarge", err)
	}
	if n, _ := keyCount(t, top); n != 0 {
		t.Fatalf("%d keys written by a rejected commit", n)
	}
	token := newSession(t, m, map[string]any{"a": 1, "b": 2, "c": 3})
	ctx = load(t, m, token)
	m.Put(ctx, "d", 4)
	if _, _, err := m.Commit(ctx); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("update to 4 values = %v, want ErrTooLarge", err)
	}
	if keys := m.Keys(load(t, m, token)); len(keys) != 3 {
		t.Fatalf("rejected update wrote: %v", keys)
	}
}
