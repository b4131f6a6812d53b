package session_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// do sends a request with the given session cookie (if any) and returns the
// response, with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func withCookie(url, token string) *http.Request {
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: "session", Value: token})
	}
	return req
}

// LoadAndSaveLocked serialises one session's requests: concurrent
// read-modify-writes of one counter lose nothing. A request that cannot get
// the lock in time is served read-only.
func TestLoadAndSaveLocked(t *testing.T) {
	m, _, _ := newManager(t)
	m.Lock.Wait = 10 * time.Second
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		n := m.GetInt(r.Context(), "n")
		time.Sleep(time.Millisecond) // the handler's work, widening the race
		m.Put(r.Context(), "n", n+1)
	})
	mux.HandleFunc("/hold", func(w http.ResponseWriter, r *http.Request) { <-release })
	mux.HandleFunc("/ro", func(w http.ResponseWriter, r *http.Request) {
		body := fmt.Sprint(m.ReadOnly(r.Context()), " ", m.GetInt(r.Context(), "n"))
		if r.FormValue("put") != "" {
			m.Put(r.Context(), "n", -1)
		}
		fmt.Fprint(w, body) // commits: after the Put
	})
	srv := httptest.NewServer(m.LoadAndSaveLocked(mux))
	defer srv.Close()
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	defer free() // before srv.Close, even if the test fails
	token := newSession(t, m, map[string]any{"n": 0})

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if resp, _ := do(t, withCookie(srv.URL+"/incr", token)); resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	if got := m.GetInt(load(t, m, token), "n"); got != n {
		t.Fatalf("n = %d after %d locked increments", got, n)
	}

	// Read-only fallback while another request holds the lock.
	m.Lock.Wait = 100 * time.Millisecond
	held := make(chan struct{})
	go func() {
		defer close(held)
		do(t, withCookie(srv.URL+"/hold", token))
	}()
	eventually(t, 5*time.Second, "lock held by /hold", func() error {
		if _, body := do(t, withCookie(srv.URL+"/ro", token)); body != fmt.Sprint("true ", n) {
			return fmt.Errorf("/ro = %q", body)
		}
		return nil
	})
	if resp, _ := do(t, withCookie(srv.URL+"/ro?put=1", token)); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a change to a read-only (locked) session answered %d, want 409", resp.StatusCode)
	}
	free()
	<-held
	if _, body := do(t, withCookie(srv.URL+"/ro", token)); body != fmt.Sprint("false ", n) {
		t.Fatalf("/ro after release = %q", body)
	}
}

// When the session's shard is down: 503 by default (fail closed); with
// FailOpen, an empty read-only session, and the cookie is left alone.
func TestFailMode(t *testing.T) {
	m, c, top := newManager(t)
	m.Logger = nil
	mux := http.NewServeMux()
	mux.HandleFunc("/ro", func(w http.ResponseWriter, r *http.Request) {
		body := fmt.Sprint(m.ReadOnly(r.Context()), " ", m.GetString(r.Context(), "user"))
		if r.FormValue("put") != "" {
			m.Put(r.Context(), "user", "mallory")
		}
		fmt.Fprint(w, body)
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	defer srv.Close()
	token := newSession(t, m, map[string]any{"user": "ada"})
	shard := c.Locate(m.ID(load(t, m, token)))
	for _, s := range top.Shards {
		if s.Name == shard {
			if err := s.Primary.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if resp, _ := do(t, withCookie(srv.URL+"/ro", token)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fail closed: status %d, want 503", resp.StatusCode)
	}
	m.FailOpen = true
	resp, body := do(t, withCookie(srv.URL+"/ro", token))
	if resp.StatusCode != http.StatusOK || body != "true " {
		t.Fatalf("fail open: %d %q, want 200 \"true \"", resp.StatusCode, body)
	}
	if len(resp.Cookies()) != 0 {
		t.Fatalf("fail open touched the cookie: %v", resp.Cookies())
	}
	if resp, _ := do(t, withCookie(srv.URL+"/ro?put=1", token)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fail open, write: status %d, want 503 (ErrReadOnly wrapping ErrUnavailable)", resp.StatusCode)
	}
}

// Tokens travel in Authorization: Bearer (or a custom header) for APIs.
func TestTokenHeader(t *testing.T) {
	for _, header := range []string{"Authorization", "X-Session"} {
		t.Run(header, func(t *testing.T) {
			m, _, _ := newManager(t)
			m.TokenHeader = header
			srv := httptest.NewServer(app(m))
			defer srv.Close()
			send := func(path, token string) (*http.Response, string) {
				req, _ := http.NewRequest("GET", srv.URL+path, nil)
				if token != "" {
					if header == "Authorization" {
						token = "Bearer " + token
					}
					req.Header.Set(header, token)
				}
				return do(t, req)
			}
			// Login over the API: the client sends an (empty) header.
			req, _ := http.NewRequest("GET", srv.URL+"/put?k=user&v=ada", nil)
			if header == "Authorization" {
				req.Header.Set(header, "Bearer x")
			} else {
				req.Header.Set(header, "x")
			}
			resp, _ := do(t, req)
			token := resp.Header.Get("Session-Token")
			if token == "" || len(resp.Cookies()) != 0 {
				t.Fatalf("header client got token %q and cookies %v", token, resp.Cookies())
			}
			if _, body := send("/get?k=user", token); body != "ada" {
				t.Fatalf("get with header token = %q", body)
			}
			resp, _ = send("/renew", token)
			renewed := resp.Header.Get("Session-Token")
			if renewed == "" || renewed == token {
				t.Fatalf("renew returned %q", renewed)
			}
			if _, body := send("/get?k=user", renewed); body != "ada" {
				t.Fatalf("get after renew = %q", body)
			}
			if _, body := send("/get?k=user", token); body != "" {
				t.Fatal("old token still works after renew")
			}
		})
	}
}

// RememberMe(false) gives a browser-session cookie, kept across requests and
// renewals; RememberMe(true) a persistent one.
func TestRememberMe(t *testing.T) {
	m, _, _ := newManager(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
		m.Put(r.Context(), "user", "ada")
		m.RememberMe(r.Context(), r.FormValue("remember") == "1")
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) { m.RenewToken(r.Context()) })
	srv := httptest.NewServer(m.LoadAndSave(mux))
	defer srv.Close()
	cookie := func(resp *http.Response) *http.Cookie {
		t.Helper()
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				return c
			}
		}
		t.Fatal("no session cookie")
		return nil
	}
	for _, tt := range []struct {
		remember   string
		persistent bool
	}{{"0", false}, {"1", true}} {
		resp, _ := do(t, withCookie(srv.URL+"/login?remember="+tt.remember, ""))
		c := cookie(resp)
		if got := c.MaxAge > 0 || !c.Expires.IsZero(); got != tt.persistent {
			t.Fatalf("remember=%s: persistent cookie %v, want %v (%s)", tt.remember, got, tt.persistent, resp.Header.Get("Set-Cookie"))
		}
		resp, _ = do(t, withCookie(srv.URL+"/renew", c.Value))
		c = cookie(resp)
		if got := c.MaxAge > 0 || !c.Expires.IsZero(); got != tt.persistent {
			t.Fatalf("remember=%s after renew: persistent %v, want %v", tt.remember, got, tt.persistent)
		}
	}
	// Changing the choice re-sends the cookie though the token is the same.
	token := newSession(t, m, map[string]any{"a": 1})
	h := m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.RememberMe(r.Context(), false) }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, withCookie("http://x/", token))
	if sc := rec.Header().Get("Set-Cookie"); !strings.Contains(sc, token) || strings.Contains(sc, "Max-Age") {
		t.Fatalf("RememberMe(false) on a persistent session: Set-Cookie %q", sc)
	}
}

// Iterate visits every live session on every shard and saves changes.
func TestIterate(t *testing.T) {
	m, _, _ := newManager(t)
	const n = 60
	for i := range n {
		ctx := load(t, m, "")
		m.Put(ctx, "i", i)
		m.SetUser(ctx, fmt.Sprint("u", i%7)) // indexes must not be visited
		if _, _, err := m.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int]bool{}
	err := m.Iterate(context.Background(), func(ctx context.Context) error {
		seen[m.GetInt(ctx, "i")] = true
		if m.GetInt(ctx, "i")%2 == 0 {
			return m.Destroy(ctx)
		}
		m.Put(ctx, "visited", true)
		return nil
	})
	if err != nil || len(seen) != n {
		t.Fatalf("Iterate saw %d of %d sessions, err %v", len(seen), n, err)
	}
	left := 0
	err = m.Iterate(context.Background(), func(ctx context.Context) error {
		left++
		if m.Get(ctx, "visited") != true {
			return errors.New("change made in Iterate not saved")
		}
		return nil
	})
	if err != nil || left != n/2 {
		t.Fatalf("second Iterate: %d sessions, %v", left, err)
	}
	stop := errors.New("stop")
	if err := m.Iterate(context.Background(), func(context.Context) error { return stop }); err != stop {
		t.Fatalf("Iterate did not stop at fn's error: %v", err)
	}
}

// SaveAlways pushes the expiry forward on every request; the default only
// when due.
func TestSaveAlways(t *testing.T) {
	m, c, _ := newManager(t)
	token := newSession(t, m, map[string]any{"a": 1})
	id := m.ID(load(t, m, token))
	seen := func() string {
		f, _, err := c.Load(context.Background(), id, clusterLoadOptions)
		if err != nil {
			t.Fatal(err)
		}
		return f["_s"]
	}
	before := seen()
	time.Sleep(5 * time.Millisecond) // let the millisecond clock move
	ctx := load(t, m, token)
	if _, _, err := m.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if seen() != before {
		t.Fatal("an unchanged session was written without SaveAlways")
	}
	m.SaveAlways = true
	ctx = load(t, m, token)
	if _, _, err := m.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if seen() == before {
		t.Fatal("SaveAlways did not touch the session")
	}
}
