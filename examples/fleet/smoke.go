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

// Smoke plays one user against the fleet at base: log in, ask "who am I"
// through every node, log out, ask again through every node. It prints each
// step to out and returns an error at the first answer that is wrong.
func Smoke(ctx context.Context, base string, nodes int, out io.Writer) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{
		Jar:     jar,
		Timeout: 5 * time.Second,
		// Count requests exactly: each one is one turn of the round robin.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	post := func(path string, form url.Values) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Fprintf(out, "%-4s %-8s → node %-6s status %d\n", "POST", path, resp.Header.Get("X-Served-By"), resp.StatusCode)
		if resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("POST %s: status %d, want 303", path, resp.StatusCode)
		}
		return nil
	}
	// whoami asks through every node and checks the user is want on each.
	whoami := func(want string) error {
		seen := map[string]bool{}
		shards := map[string]bool{}
		for range nodes {
			req, _ := http.NewRequestWithContext(ctx, "GET", base+"/whoami", nil)
			resp, err := c.Do(req)
			if err != nil {
				return err
			}
			var w WhoAmI
			err = json.NewDecoder(resp.Body).Decode(&w)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET /whoami: status %d, %v", resp.StatusCode, err)
			}
			fmt.Fprintf(out, "%-4s %-8s → node %-6s user %-8q shard %-4q read %s %s\n", "GET", "/whoami", w.Node, w.User, w.Shard, w.Read, w.ReadNode)
			if w.User != want {
				return fmt.Errorf("node %s says user %q, want %q", w.Node, w.User, want)
			}
			seen[w.Node] = true
			shards[w.Shard] = true
		}
		if len(seen) != nodes {
			return fmt.Errorf("answered by %d distinct nodes, want %d", len(seen), nodes)
		}
		if want != "" && (len(shards) != 1 || shards[""]) {
			return fmt.Errorf("nodes disagree on the session's shard: %v", shards)
		}
		return nil
	}
	steps := []func() error{
		func() error { return whoami("") },
		func() error { return post("/login", url.Values{"user": {"ada"}}) },
		func() error { return whoami("ada") },
		func() error { return post("/logout", nil) },
		func() error { return whoami("") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("smoke: %w", err)
		}
	}
	fmt.Fprintln(out, "smoke: ok — every node saw the login and the logout")
	return nil
}
