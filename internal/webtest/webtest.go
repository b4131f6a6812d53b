// Package webtest is a browser for tests: an HTTP client with a cookie jar
// that does not follow redirects, so each request is exactly one request, and
// a scripted login → whoami → logout run that the adapter and example tests
// share.
package webtest

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
)

// Browser is an HTTP client with a cookie jar.
type Browser struct {
	t testing.TB
	c *http.Client
}

// New returns a Browser with an empty cookie jar.
func New(t testing.TB) *Browser {
	jar, _ := cookiejar.New(nil)
	return &Browser{t: t, c: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Get fetches u and returns the status and body; a transport error fails
// the test.
func (b *Browser) Get(u string) (int, string) {
	b.t.Helper()
	return b.do(http.NewRequest("GET", u, nil))
}

// Post posts form to u and returns the status and body.
func (b *Browser) Post(u string, form url.Values) (int, string) {
	b.t.Helper()
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if req != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return b.do(req, err)
}

func (b *Browser) do(req *http.Request, err error) (int, string) {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Cookie returns the value of the jar's cookie name for u, "" if none.
func (b *Browser) Cookie(u, name string) string {
	pu, err := url.Parse(u)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, c := range b.c.Jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// LoginLogout plays the script every example app serves: GET /whoami
// answers the logged-in user's name ("" when logged out), POST /login with
// form field "user" logs in, POST /logout logs out. It checks each answer
// against base, an app's URL, with a fresh browser.
func LoginLogout(t testing.TB, base string) {
	t.Helper()
	b := New(t)
	steps := []struct {
		method, path, user string
		want               string // body of /whoami
	}{
		{"GET", "/whoami", "", ""},
		{"POST", "/login", "ada", ""},
		{"GET", "/whoami", "", "ada"},
		{"GET", "/whoami", "", "ada"},
		{"POST", "/logout", "", ""},
		{"GET", "/whoami", "", ""},
	}
	for i, s := range steps {
		if s.method == "POST" {
			code, body := b.Post(base+s.path, url.Values{"user": {s.user}})
			if code >= 400 {
				t.Fatalf("step %d: POST %s: status %d: %s", i, s.path, code, body)
			}
			continue
		}
		code, body := b.Get(base + s.path)
		if code != http.StatusOK || strings.TrimSpace(body) != s.want {
			t.Fatalf("step %d: GET %s = %d %q, want 200 %q", i, s.path, code, body, s.want)
		}
	}
}

// NewManager returns a session Manager over a new cluster of three real
// Redis shards (closed when the test ends), with a cookie that works over
// plain HTTP, as httptest serves.
func NewManager(t testing.TB) *session.Manager {
	t.Helper()
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	return m
}

// Serve starts h on an httptest server, closed when the test ends, and
// returns its URL.
func Serve(t testing.TB, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}
