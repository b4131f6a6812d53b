package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/session"
)

func TestLifecycle(t *testing.T) {
	m, _, top := newManager(t)
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	b := newBrowser(t, srv)

	b.must("/get?k=user", "")
	if b.cookie(srv) != "" {
		t.Fatal("a request that stored nothing set a cookie")
	}
	if n, _ := keyCount(t, top); n != 0 {
		t.Fatalf("%d keys stored for an unmodified new session", n)
	}

	b.must("/put?k=user&v=ada", "")
	first := b.cookie(srv)
	if first == "" {
		t.Fatal("no session cookie after Put")
	}
	b.must("/get?k=user", "ada")
	b.must("/put?k=theme&v=dark", "")
	b.must("/get?k=theme", "dark")
	b.must("/remove?k=theme", "")
	b.must("/get?k=theme", "")
	b.must("/get?k=user", "ada")
	if b.cookie(srv) != first {
		t.Fatal("token changed without RenewToken")
	}

	b.must("/renew", "")
	if c := b.cookie(srv); c == first || c == "" {
		t.Fatalf("RenewToken kept the token (or dropped the cookie): %q", c)
	}
	b.must("/get?k=user", "ada")

	b.must("/destroy", "")
	if b.cookie(srv) != "" {
		t.Fatal("Destroy left the cookie in the browser")
	}
	b.must("/get?k=user", "")
	if n, _ := keyCount(t, top); n != 0 {
		t.Fatalf("%d keys left after Destroy", n)
	}
}

// A session is spread over every shard of the ring, close to evenly.
func TestSpreadOverShards(t *testing.T) {
	m, _, top := newManager(t)
	const sessions = 10000
	ctx := context.Background()
	for i := range sessions {
		sctx, err := m.Load(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		m.Put(sctx, "n", i)
		if _, _, err := m.Commit(sctx); err != nil {
			t.Fatal(err)
		}
	}
	total, per := keyCount(t, top)
	if total != sessions {
		t.Fatalf("stored %d sessions, want %d", total, sessions)
	}
	even := float64(sessions) / float64(len(per))
	for i, n := range per {
		if dev := (float64(n) - even) / even; dev > 0.15 || dev < -0.15 {
			t.Errorf("shard %s holds %d sessions, %+.0f%% from even (%v)", top.Shards[i].Name, n, 100*dev, per)
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	m, _, top := newManager(t)
	m.IdleTimeout, m.Lifetime = busyIdleTimeout, time.Minute
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	b := newBrowser(t, srv)

	b.must("/put?k=user&v=ada", "")
	// Activity keeps it alive well past one idle period.
	b.keepBusy(2500*time.Millisecond, 100*time.Millisecond)
	// Idle: Redis reaps it on its own, with no request to notice.
	waitReaped(t, top, 4*time.Second, "idle session expires in Redis")
	b.must("/get?k=user", "")
}

func TestAbsoluteTimeout(t *testing.T) {
	m, _, top := newManager(t)
	m.IdleTimeout, m.Lifetime = busyIdleTimeout, 2500*time.Millisecond
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	b := newBrowser(t, srv)

	b.must("/put?k=user&v=ada", "")
	start := time.Now()
	// Busy all along, yet the session must end at its absolute deadline.
	eventually(t, 6*time.Second, "busy session ends at its deadline", func() error {
		if _, body := b.get("/get?k=user"); body == "ada" {
			return errors.New("still logged in")
		}
		return nil
	})
	if took := time.Since(start); took < 2300*time.Millisecond {
		t.Fatalf("session ended after %v, before its lifetime", took)
	}
	// Redis reaps an expired key on access or by its periodic sampling, so
	// the key may linger a moment past the deadline; it must not outlive it
	// by much.
	waitReaped(t, top, 2*time.Second, "expired session reaped by Redis after the deadline")
}

// RenewToken moves the data to the new token's shard and leaves no old key,
// also when the old and new tokens live on different shards.
func TestRenewAcrossShards(t *testing.T) {
	m, _, top := newManager(t)
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	b := newBrowser(t, srv)
	b.must("/put?k=user&v=ada", "")

	crossed := 0
	for i := 0; i < 30 && crossed < 3; i++ {
		before := b.must("/shard", "")
		b.must("/renew", "")
		after := b.must("/shard", "")
		if before != after {
			crossed++
		}
		b.must("/get?k=user", "ada")
		if n, _ := keyCount(t, top); n != 1 {
			t.Fatalf("%d keys after renewal %d (%s → %s), want 1", n, i, before, after)
		}
	}
	if crossed < 3 {
		t.Fatalf("only %d of 30 renewals changed shard", crossed)
	}
}

// Cookies the server did not issue get a fresh session with a token of the
// server's choosing, never an error and never the client's token.
func TestBadCookies(t *testing.T) {
	m, _, top := newManager(t)
	srv := httptest.NewServer(app(m))
	defer srv.Close()

	forged := strings.Repeat("A", 43) // the shape of a token, never issued
	cases := map[string]string{
		"empty":     "",
		"short":     "abc",
		"bad chars": strings.Repeat("*", 43),
		"traversal": "../../etc/passwd",
		"forged":    forged,
		"oversized": strings.Repeat("x", 8000),
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", srv.URL+"/put?k=user&v=mallory", nil)
			req.Header.Set("Cookie", "session="+value)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			var got string
			for _, c := range resp.Cookies() {
				if c.Name == "session" {
					got = c.Value
				}
			}
			if got == "" || got == value {
				t.Fatalf("new cookie %q for request cookie %q", got, value)
			}
		})
	}
	if n, _ := keyCount(t, top); n != int64(len(cases)) {
		t.Fatalf("%d keys, want one fresh session per case (%d)", n, len(cases))
	}
}

func TestTooLarge(t *testing.T) {
	m, _, top := newManager(t)
	m.MaxSize = 1024
	ctx, err := m.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m.Put(ctx, "blob", strings.Repeat("x", 2000))
	if _, _, err := m.Commit(ctx); !errors.Is(err, session.ErrTooLarge) {
		t.Fatalf("Commit = %v, want ErrTooLarge", err)
	}
	if n, _ := keyCount(t, top); n != 0 {
		t.Fatalf("%d keys written for a session over MaxSize", n)
	}
}

// A shard that is down fails its own sessions with ErrUnavailable naming it,
// while sessions on the other shards carry on.
func TestShardDown(t *testing.T) {
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
	down := top.Shards[1]
	if err := down.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	for name, token := range tokens {
		_, err := m.Load(ctx, token)
		req, _ := http.NewRequest("GET", srv.URL+"/get?k=user", nil)
		req.Header.Set("Cookie", "session="+token)
		resp, herr := http.DefaultClient.Do(req)
		if herr != nil {
			t.Fatal(herr)
		}
		resp.Body.Close()
		if name == down.Name {
			if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), down.Name) {
				t.Errorf("Load on the stopped shard = %v, want ErrUnavailable naming %s", err, down.Name)
			}
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("request on the stopped shard: status %d, want 503", resp.StatusCode)
			}
			continue
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("shard %s: Load = %v, status %d; want it unaffected", name, err, resp.StatusCode)
		}
	}
}
