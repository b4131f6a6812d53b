package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/session/msgpackcodec"
	"github.com/shardsession/shardsession/store"
)

// nested returns a value nested depth levels deep: []any{[]any{...}}.
func nested(depth int) any {
	var v any = "x"
	for range depth {
		v = []any{v}
	}
	return v
}

// A value the codec encodes but would refuse to decode is refused at
// Commit: stored, it would make every later request of the session fail.
func TestUndecodableValueRefused(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	tests := []struct {
		name  string
		codec session.Codec
		depth int
	}{
		{"json", session.JSONCodec{}, 10001},
		{"msgpack", msgpackcodec.Codec{}, 1001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := session.New(c)
			m.Codec, m.MaxSize = tt.codec, 1<<20
			ctx := load(t, m, "")
			m.Put(ctx, "deep", nested(tt.depth))
			if _, _, err := m.Commit(ctx); !errors.Is(err, session.ErrBadValue) {
				t.Fatalf("Commit of a value nested %d deep = %v, want ErrBadValue", tt.depth, err)
			}
			ctx = load(t, m, "")
			m.Put(ctx, "deep", nested(tt.depth-10))
			if _, _, err := m.Commit(ctx); err != nil {
				t.Fatalf("Commit of a value within the decoder's depth: %v", err)
			}
		})
	}
}

// A stored session that cannot be read (a value the codec refuses, a bad
// bookkeeping field, a key that is not a hash) does not fail every request
// of its user: it is served as a new, empty session, and logging out
// deletes it.
func TestPoisonSessionCanLogOut(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	tests := []struct {
		name   string
		poison func(ctx context.Context, r redis.Cmdable, key string) error
	}{
		{"undecodable value", func(ctx context.Context, r redis.Cmdable, key string) error {
			return r.HSet(ctx, key, "v:user", "\xff not gob").Err()
		}},
		{"bad deadline", func(ctx context.Context, r redis.Cmdable, key string) error {
			return r.HSet(ctx, key, "_d", "soon").Err()
		}},
		{"not a hash", func(ctx context.Context, r redis.Cmdable, key string) error {
			return r.Set(ctx, key, "a string", 0).Err()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := session.New(c)
			m.Cookie.Name, m.Cookie.Secure = "session", false
			m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			mux := http.NewServeMux()
			mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
				m.Put(r.Context(), "user", "ada")
				m.SetUser(r.Context(), "ada")
			})
			mux.HandleFunc("/id", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, m.ID(r.Context())) })
			mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, m.GetString(r.Context(), "user")) })
			mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
				if err := m.Destroy(r.Context()); err != nil {
					http.Error(w, err.Error(), http.StatusInternalServerError)
				}
			})
			srv := httptest.NewServer(m.LoadAndSave(mux))
			defer srv.Close()
			b := newBrowser(t, srv)
			b.must("/login", "")
			id, token := b.must("/id", ""), b.cookie(srv)
			key := c.Key(id)
			ctx := context.Background()
			primary := c.ShardFor(id).Primary()
			if err := tt.poison(ctx, primary, key); err != nil {
				t.Fatal(err)
			}
			b.must("/user", "") // served, empty, not a 500
			if !strings.Contains(logs.String(), id) {
				t.Fatalf("the undecodable session %s was not logged:\n%s", id, logs.String())
			}
			// That request expired the cookie; a client that kept it can
			// still log out, and the record is gone.
			if resp, body := do(t, withCookie(srv.URL+"/logout", token)); resp.StatusCode != http.StatusOK {
				t.Fatalf("logout of a poisoned session = %d %s", resp.StatusCode, body)
			}
			if n, err := primary.Exists(ctx, key).Result(); err != nil || n != 0 {
				t.Fatalf("poisoned record after logout: exists %d, %v", n, err)
			}
			if list, err := m.ListByUser(ctx, "ada"); err != nil || len(list) != 0 {
				t.Fatalf("ListByUser after logout = %v, %v", list, err)
			}
		})
	}
}

// countingStore counts the Loads that reach the cluster.
type countingStore struct {
	*cluster.Cluster
	loads atomic.Int64
}

func (s *countingStore) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	s.loads.Add(1)
	return s.Cluster.Load(ctx, id, opt)
}

// A user's sessions are bounded by MaxSessionsPerUser (the oldest are
// ended); ListByUser reads no session's values and leaves out, rather than
// fails on, a session whose bookkeeping is corrupt; a user ID is bounded.
func TestPerUserIndexBounded(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	store := &countingStore{Cluster: c}
	m := session.New(store)
	m.MaxSessionsPerUser = 3
	var ctxs []context.Context
	for i := range 5 {
		ctx := load(t, m, "")
		m.Put(ctx, "big", strings.Repeat("x", 60<<10-100))
		m.SetUser(ctx, "ada")
		if _, _, err := m.Commit(ctx); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		ctxs = append(ctxs, ctx)
	}
	ctx := context.Background()
	store.loads.Store(0)
	list, err := m.ListByUser(ctx, "ada")
	if err != nil || len(list) != 3 {
		t.Fatalf("ListByUser after 5 logins with MaxSessionsPerUser 3 = %d sessions, %v", len(list), err)
	}
	if n := store.loads.Load(); n != 0 {
		t.Fatalf("ListByUser loaded %d whole sessions", n)
	}
	for i, sctx := range ctxs {
		exists, err := c.Exists(ctx, m.ID(sctx))
		if err != nil || exists != (i >= 2) {
			t.Fatalf("session of login %d: exists %v, %v; want only the 3 newest", i, exists, err)
		}
	}
	// A corrupt session is left out, the others listed.
	if err := c.ShardFor(m.ID(ctxs[4])).Primary().HSet(ctx, c.Key(m.ID(ctxs[4])), "_d", "never").Err(); err != nil {
		t.Fatal(err)
	}
	if list, err := m.ListByUser(ctx, "ada"); err != nil || len(list) != 2 {
		t.Fatalf("ListByUser with one corrupt session = %d sessions, %v; want the 2 others", len(list), err)
	}
	// A user ID far over its bound is refused, not written.
	sctx := load(t, m, "")
	m.SetUser(sctx, strings.Repeat("u", 1<<20))
	if _, _, err := m.Commit(sctx); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Commit with a 1 MiB user ID = %v, want ErrTooLarge", err)
	}
}

// MaxFields and MaxSize: zero means the default, negative no bound, and a
// session of thousands of values is saved (not failed inside Lua).
func TestLimitsZeroAndNegative(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	put := func(m *session.Manager, n int) error {
		ctx := load(t, m, "")
		for i := range n {
			m.Put(ctx, fmt.Sprint("k", i), i)
		}
		_, _, err := m.Commit(ctx)
		return err
	}
	zero := &session.Manager{Store: c}
	if err := put(zero, 1025); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("MaxFields 0 (default 1024), 1025 values: %v, want ErrTooLarge", err)
	}
	if err := put(zero, 1024); err != nil {
		t.Fatalf("MaxFields 0 (default 1024), 1024 values: %v", err)
	}
	unbounded := &session.Manager{Store: c, MaxFields: -1, MaxSize: -1}
	if err := put(unbounded, 5000); err != nil {
		t.Fatalf("MaxFields -1, 5000 values: %v", err)
	}
}

// LoadAndSaveLocked writes no lock for a token that names no session.
func TestLockedUnknownTokenWritesNothing(t *testing.T) {
	m, _, top := newManager(t)
	srv := httptest.NewServer(m.LoadAndSaveLocked(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.GetString(r.Context(), "user"))
	})))
	defer srv.Close()
	for range 20 {
		if resp, _ := do(t, withCookie(srv.URL, newTokenLike())); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n, _ := keyCount(t, top); n != 0 {
		t.Fatalf("%d keys written for tokens that name no session", n)
	}
}

// newTokenLike returns a well-formed token that names no session.
func newTokenLike() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Header transport: a response about the token's user is never cacheable,
// whether or not the token changed.
func TestTokenHeaderResponsesNotCached(t *testing.T) {
	m, _, _ := newManager(t)
	m.TokenHeader = "Authorization"
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	send := func(path, token string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, _ := do(t, req)
		return resp
	}
	token := send("/put?k=user&v=ada", "x").Header.Get("Session-Token")
	resp := send("/get?k=user", token)
	if resp.Header.Get("Session-Token") != "" {
		t.Fatal("token re-sent although unchanged")
	}
	if cc := resp.Header.Values("Cache-Control"); len(cc) != 1 || cc[0] != "no-store" {
		t.Fatalf("Cache-Control %q, want no-store", cc)
	}
	if v := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(v, "Authorization") || !strings.Contains(v, "Cookie") {
		t.Fatalf("Vary %q, want Cookie and Authorization", v)
	}
}
