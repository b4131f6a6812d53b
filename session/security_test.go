package session_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/session"
)

// Acceptance: KEYS and SCAN of every shard, and every value stored, show no
// raw session token: Redis holds only hashes of tokens.
func TestRedisHoldsNoRawToken(t *testing.T) {
	m, _, top := newManager(t)
	m.PublishEvents = true
	srv := httptest.NewServer(app(m))
	defer srv.Close()

	var tokens []string
	for i := range 30 {
		b := newBrowser(t, srv)
		b.must("/put?k=user&v=u"+string(rune('a'+i%26)), "")
		b.must("/login?user=ada", "")
		tokens = append(tokens, b.cookie(srv))
		b.must("/renew", "") // the renewed token too
		tokens = append(tokens, b.cookie(srv))
	}
	ctx := context.Background()
	for _, s := range top.Shards {
		cl := s.Primary.Client()
		keys, err := cl.Keys(ctx, "*").Result()
		if err != nil {
			t.Fatal(err)
		}
		var scanned []string
		iter := cl.Scan(ctx, 0, "*", 100).Iterator()
		for iter.Next(ctx) {
			scanned = append(scanned, iter.Val())
		}
		if len(scanned) != len(keys) || len(keys) == 0 {
			t.Fatalf("shard %s: KEYS %d, SCAN %d keys", s.Name, len(keys), len(scanned))
		}
		var dump strings.Builder
		for _, k := range keys {
			dump.WriteString(k + "\n")
			switch typ := cl.Type(ctx, k).Val(); typ {
			case "hash":
				for f, v := range cl.HGetAll(ctx, k).Val() {
					dump.WriteString(f + "=" + v + "\n")
				}
			case "zset":
				dump.WriteString(strings.Join(cl.ZRange(ctx, k, 0, -1).Val(), "\n"))
			case "string":
				dump.WriteString(cl.Get(ctx, k).Val())
			default:
				t.Errorf("shard %s: unexpected %s key %s", s.Name, typ, k)
			}
		}
		cl.Close()
		for _, tok := range tokens {
			if tok == "" {
				t.Fatal("no cookie")
			}
			if strings.Contains(dump.String(), tok) {
				t.Fatalf("shard %s stores a raw session token", s.Name)
			}
		}
	}
}

// The default cookie follows the OWASP cheat sheet: __Host- prefix, Secure,
// HttpOnly, SameSite=Lax, Path=/, no Domain; responses are not cached by
// shared caches.
func TestDefaultCookieAttributes(t *testing.T) {
	_, c, _ := newManager(t)
	m := session.New(c) // the defaults, not the test's plain-HTTP cookie
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "user", "ada")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://example.com/", nil))
	sc := rec.Header().Get("Set-Cookie")
	for _, want := range []string{"__Host-session=", "Path=/", "HttpOnly", "Secure", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Domain") {
		t.Errorf("Set-Cookie %q has a Domain", sc)
	}
	if !strings.Contains(rec.Header().Get("Vary"), "Cookie") || rec.Header().Get("Cache-Control") == "" {
		t.Errorf("headers %v: want Vary: Cookie and Cache-Control", rec.Header())
	}
}

// Tokens are never taken from the URL, and never logged, even when the
// session's shard fails.
func TestTokenNotFromURLNorLogged(t *testing.T) {
	m, c, top := newManager(t)
	var logs bytes.Buffer
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	token := newSession(t, m, map[string]any{"user": "ada"})

	resp, body := do(t, withCookie(srv.URL+"/get?k=user&session="+token, ""))
	if body != "" || len(resp.Cookies()) != 0 {
		t.Fatalf("a token in the URL was used: %q %v", body, resp.Cookies())
	}
	shard := c.Locate(m.ID(load(t, m, token)))
	for _, s := range top.Shards {
		if s.Name == shard {
			s.Primary.Kill()
		}
	}
	if resp, _ := do(t, withCookie(srv.URL+"/get?k=user", token)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if logs.Len() == 0 || strings.Contains(logs.String(), token) {
		t.Fatalf("log (%d bytes) missing or contains the token:\n%s", logs.Len(), logs.String())
	}
}
