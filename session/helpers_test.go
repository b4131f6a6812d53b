package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// newManager returns a Manager over a fresh 3-shard local cluster, with a
// cookie that works over plain HTTP.
func newManager(t *testing.T) (*session.Manager, *cluster.Cluster, *redistest.Topology) {
	t.Helper()
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	return m, c, top
}

// app is a small web app over m: each path does one thing to the session.
func app(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, m.GetString(r.Context(), r.FormValue("k")))
	})
	mux.HandleFunc("/remove", func(w http.ResponseWriter, r *http.Request) {
		m.Remove(r.Context(), r.FormValue("k"))
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		m.SetUser(r.Context(), r.FormValue("user"))
	})
	mux.HandleFunc("/shard", func(w http.ResponseWriter, r *http.Request) {
		name, _ := m.Shard(r.Context())
		io.WriteString(w, name)
	})
	return m.LoadAndSave(mux)
}

// browser is an HTTP client with its own cookie jar.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 5 * time.Second}, base: srv.URL}
}

// get fetches path and returns the status and body.
func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// must fetches path and fails the test unless it answers 200 with want
// (want "" accepts any body).
func (b *browser) must(path, want string) string {
	b.t.Helper()
	code, body := b.get(path)
	if code != http.StatusOK || (want != "" && body != want) {
		b.t.Fatalf("GET %s = %d %q, want 200 %q", path, code, body, want)
	}
	return body
}

// busyIdleTimeout is the idle timeout of tests that keep a session busy:
// far longer than any stall of a loaded CI machine between two requests,
// so that only idleness (or the lifetime) ends the session.
const busyIdleTimeout = time.Second

// keepBusy asks every pause, for d, who the user is; the session must
// still say "ada" each time.
func (b *browser) keepBusy(d, pause time.Duration) {
	b.t.Helper()
	for start := time.Now(); time.Since(start) < d; {
		b.must("/get?k=user", "ada")
		time.Sleep(pause) // the activity itself, not a wait
	}
}

// waitReaped waits up to d until Redis has removed every session key of
// top on its own.
func waitReaped(t *testing.T, top *redistest.Topology, d time.Duration, what string) {
	t.Helper()
	eventually(t, d, what, func() error {
		if n, _ := keyCount(t, top); n != 0 {
			return fmt.Errorf("%d keys left", n)
		}
		return nil
	})
}

// cookie returns the browser's session cookie value for the server, or "".
func (b *browser) cookie(srv *httptest.Server) string {
	req, _ := http.NewRequest("GET", srv.URL, nil)
	for _, c := range b.c.Jar.Cookies(req.URL) {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

// keyCount is the number of keys over all shards of top.
func keyCount(t *testing.T, top *redistest.Topology) (total int64, per []int64) {
	t.Helper()
	for _, s := range top.Shards {
		cl := s.Primary.Client()
		n, err := cl.DBSize(context.Background()).Result()
		cl.Close()
		if err != nil {
			t.Fatalf("DBSIZE %s: %v", s.Name, err)
		}
		total += n
		per = append(per, n)
	}
	return total, per
}

// eventually polls check until it returns nil or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %v", what, d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// cookiesOf returns the browser's cookies for srv.
func cookiesOf(b *browser, srv *httptest.Server) []*http.Cookie {
	return b.c.Jar.Cookies(mustURL(srv.URL))
}

// clusterLoadOptions read the primary.
var clusterLoadOptions = store.LoadOptions{Primary: true}
