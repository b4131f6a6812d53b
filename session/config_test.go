package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
)

// A configuration that cannot work fails at set-up (LoadAndSave panics)
// or at the first Load, with an error naming the field; a zero-value
// Manager with a Store works with the defaults.
func TestBadConfigFailsAtSetup(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	tests := []struct {
		name  string
		m     *session.Manager
		field string // "" for a good configuration
	}{
		{"zero value", &session.Manager{Store: c}, ""},
		{"New", session.New(c), ""},
		{"plain-HTTP cookie", &session.Manager{Store: c, Cookie: session.Cookie{Name: "session", HttpOnly: true}}, ""},
		{"no store", &session.Manager{}, "Store"},
		{"__Host- without Secure", &session.Manager{Store: c, Cookie: session.Cookie{Name: "__Host-s", Path: "/"}}, "Cookie.Secure"},
		{"__Host- with a Domain", &session.Manager{Store: c, Cookie: session.Cookie{Name: "__Host-s", Secure: true, Domain: "example.com"}}, "Cookie.Domain"},
		{"__Secure- without Secure", &session.Manager{Store: c, Cookie: session.Cookie{Name: "__Secure-s"}}, "Cookie.Secure"},
		{"short signing key", &session.Manager{Store: c, SigningKeys: [][]byte{[]byte("short")}}, "SigningKeys[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var panicked any
			func() {
				defer func() { panicked = recover() }()
				tt.m.LoadAndSave(http.NotFoundHandler())
			}()
			_, err := tt.m.Load(context.Background(), "")
			if tt.field == "" {
				if panicked != nil || err != nil {
					t.Fatalf("good configuration: panic %v, Load %v", panicked, err)
				}
				ctx, _ := tt.m.Load(context.Background(), "")
				tt.m.Put(ctx, "k", "v")
				if _, _, err := tt.m.Commit(ctx); err != nil {
					t.Fatalf("Commit: %v", err)
				}
				return
			}
			perr, _ := panicked.(error)
			if !errors.Is(perr, session.ErrBadConfig) || !strings.Contains(perr.Error(), tt.field) {
				t.Fatalf("LoadAndSave panicked with %v, want ErrBadConfig naming %s", panicked, tt.field)
			}
			if !errors.Is(err, session.ErrBadConfig) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("Load = %v, want ErrBadConfig naming %s", err, tt.field)
			}
		})
	}
}

// A Secure cookie set over plain HTTP never comes back: say so, once.
func TestSecureCookieOverPlainHTTPWarnsOnce(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	var logs bytes.Buffer
	m := session.New(c)
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.Put(r.Context(), "k", "v")
	})))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	do(t, req) // behind a TLS-terminating proxy: fine
	if logs.Len() != 0 {
		t.Fatalf("warned about a request the proxy says was HTTPS:\n%s", logs.String())
	}
	for range 3 {
		do(t, withCookie(srv.URL, ""))
	}
	if n := strings.Count(logs.String(), "plain HTTP: the browser"); n != 1 {
		t.Fatalf("%d warnings about Cookie.Secure over plain HTTP, want 1:\n%s", n, logs.String())
	}
}

// SetUser renews the token when the user changes (a token planted before
// login is worthless after it), unless KeepTokenOnSetUser.
func TestSetUserRenewsToken(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "KeepTokenOnSetUser"}[keep], func(t *testing.T) {
			m, _, _ := newManager(t)
			m.KeepTokenOnSetUser = keep
			srv := httptest.NewServer(app(m))
			defer srv.Close()
			b := newBrowser(t, srv)
			b.must("/put?k=cart&v=1", "")
			planted := b.cookie(srv)
			b.must("/login?user=ada", "")
			if renewed := b.cookie(srv) != planted; renewed == keep {
				t.Fatalf("token renewed at login: %v, want %v", renewed, !keep)
			}
			b.must("/get?k=cart", "1") // the data goes with the session
			if _, body := do(t, withCookie(srv.URL+"/get?k=cart", planted)); (body == "1") != keep {
				t.Fatalf("the token from before login still reads the session: %v, want %v", body == "1", keep)
			}
		})
	}
}
