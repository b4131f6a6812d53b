package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// user is a browser with a cookie jar, printing each request to out.
type user struct {
	base string
	c    *http.Client
	out  io.Writer
}

// newUser returns a browser with an empty cookie jar that counts requests
// exactly: it does not follow redirects, so each request is one turn of
// the fleet's round robin.
func newUser(base string, out io.Writer) *user {
	jar, _ := cookiejar.New(nil)
	return &user{base: base, out: out, c: &http.Client{
		Jar:           jar,
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login posts the login form and returns the status.
func (u *user) login(ctx context.Context, name string) (int, error) {
	return u.post(ctx, "/login", url.Values{"user": {name}})
}

// post posts form to path and returns the status.
func (u *user) post(ctx context.Context, path string, form url.Values) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", u.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := u.c.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	fmt.Fprintf(u.out, "%-4s %-8s → node %-6s status %d\n", "POST", path, resp.Header.Get("X-Served-By"), resp.StatusCode)
	return resp.StatusCode, nil
}

// whoami asks who the user is; w is set only with status 200.
func (u *user) whoami(ctx context.Context) (w WhoAmI, status int, err error) {
	req, _ := http.NewRequestWithContext(ctx, "GET", u.base+"/whoami", nil)
	resp, err := u.c.Do(req)
	if err != nil {
		return w, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(u.out, "%-4s %-8s → node %-6s status %d\n", "GET", "/whoami", resp.Header.Get("X-Served-By"), resp.StatusCode)
		return w, resp.StatusCode, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return w, resp.StatusCode, err
	}
	fmt.Fprintf(u.out, "%-4s %-8s → node %-6s user %-8q shard %-4q read %s %s\n", "GET", "/whoami", w.Node, w.User, w.Shard, w.Read, w.ReadNode)
	return w, resp.StatusCode, nil
}
