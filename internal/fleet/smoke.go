package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// Smoke plays one user against the fleet at base: log in, ask "who am I"
// through every node, log out, ask again through every node. It prints each
// step to out and returns an error at the first answer that is wrong.
// Behind a sticky proxy (sticky) a logged-in user's requests must all reach
// one node instead.
func Smoke(ctx context.Context, base string, nodes int, sticky bool, out io.Writer) error {
	u := newUser(base, out)
	// whoami asks through every node and checks the user is want on each.
	whoami := func(want string) error {
		seen := map[string]bool{}
		shards := map[string]bool{}
		for range nodes {
			w, code, err := u.whoami(ctx)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("GET /whoami: status %d, %v", code, err)
			}
			if w.User != want {
				return fmt.Errorf("node %s says user %q, want %q", w.Node, w.User, want)
			}
			seen[w.Node] = true
			shards[w.Shard] = true
		}
		switch {
		case sticky && want != "":
			if len(seen) != 1 { // the session cookie holds the user to one node
				return fmt.Errorf("the sticky proxy sent one user's requests to %d nodes", len(seen))
			}
		case len(seen) != nodes:
			return fmt.Errorf("answered by %d distinct nodes, want %d", len(seen), nodes)
		}
		if want != "" && (len(shards) != 1 || shards[""]) {
			return fmt.Errorf("nodes disagree on the session's shard: %v", shards)
		}
		return nil
	}
	// post posts to path and expects the redirect back to /.
	post := func(path string, form map[string][]string) error {
		code, err := u.post(ctx, path, form)
		if err == nil && code != http.StatusSeeOther {
			err = fmt.Errorf("POST %s: status %d, want 303", path, code)
		}
		return err
	}
	steps := []func() error{
		func() error { return whoami("") },
		func() error { return post("/login", map[string][]string{"user": {"ada"}}) },
		func() error { return whoami("ada") },
		func() error { return post("/logout", nil) },
		func() error { return whoami("") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return fmt.Errorf("smoke: %w", err)
		}
	}
	if sticky {
		fmt.Fprintln(out, "smoke: ok — the sticky proxy kept the logged-in user on one node, which saw the login and the logout")
	} else {
		fmt.Fprintln(out, "smoke: ok — every node saw the login and the logout")
	}
	return nil
}
