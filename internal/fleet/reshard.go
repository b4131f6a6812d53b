package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// ReshardStep is one topology change that SmokeReshard makes while users
// are logged in: Run makes it (for example `shardsession reshard --add`) and
// returns once the fleet has moved every session.
type ReshardStep struct {
	Name string
	Run  func(ctx context.Context) error
}

// SmokeReshard plays users against the fleet at base while steps change
// its shards: one user logs in before the first step and must be known on
// every node after each; meanwhile other users log in, read and log out
// without pause, and every answer must be right (a logged-in user known,
// a logged-out one not) and none may fail. At the end the first user logs
// out, and no node knows them any more. It prints what it does to out.
func SmokeReshard(ctx context.Context, base string, nodes int, steps []ReshardStep, out io.Writer) error {
	u := newUser(base, out)
	if code, err := u.login(ctx, "lovelace"); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("reshard smoke: login: status %d, %v", code, err)
	}
	everyNode := func(want string) (shard string, err error) {
		for range nodes {
			w, code, err := u.whoami(ctx)
			if err != nil || code != http.StatusOK {
				return "", fmt.Errorf("GET /whoami: status %d, %v", code, err)
			}
			if w.User != want {
				return "", fmt.Errorf("node %s says user %q, want %q", w.Node, w.User, want)
			}
			shard = w.Shard
		}
		return shard, nil
	}
	shard, err := everyNode("lovelace")
	if err != nil {
		return fmt.Errorf("reshard smoke: %w", err)
	}
	fmt.Fprintf(out, "reshard smoke: logged in; the session lives on shard %s\n", shard)

	tctx, stop := context.WithCancel(ctx)
	t := &traffic{base: base}
	var wg sync.WaitGroup
	wg.Go(func() { t.run(tctx) })
	for _, step := range steps {
		fmt.Fprintf(out, "reshard smoke: %s\n", step.Name)
		if err = step.Run(ctx); err != nil {
			err = fmt.Errorf("reshard smoke: %s: %w", step.Name, err)
			break
		}
		if shard, err = everyNode("lovelace"); err != nil {
			err = fmt.Errorf("reshard smoke: after %s: %w", step.Name, err)
			break
		}
		fmt.Fprintf(out, "reshard smoke: after %s every node still knows the user; the session lives on shard %s\n", step.Name, shard)
	}
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	if err := t.err(); err != nil {
		return fmt.Errorf("reshard smoke: traffic during the changes: %w", err)
	}
	if code, err := u.post(ctx, "/logout", nil); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("reshard smoke: logout: status %d, %v", code, err)
	}
	if _, err := everyNode(""); err != nil {
		return fmt.Errorf("reshard smoke: after logout: %w", err)
	}
	fmt.Fprintf(out, "reshard smoke: ok — %d requests of other users during the changes, all answered right\n", t.requests.Load())
	return nil
}

// traffic is users logging in, reading and logging out in a loop, quietly.
type traffic struct {
	base     string
	requests atomic.Int64

	mu    sync.Mutex
	first error
}

func (t *traffic) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		if err := t.visit(ctx, fmt.Sprintf("user%d", i)); err != nil && ctx.Err() == nil {
			t.mu.Lock()
			if t.first == nil {
				t.first = err
			}
			t.mu.Unlock()
			return
		}
	}
}

// visit logs name in, reads twice, logs out and reads again.
func (t *traffic) visit(ctx context.Context, name string) error {
	u := newUser(t.base, io.Discard)
	post := func(path string, form map[string][]string) error {
		t.requests.Add(1)
		code, err := u.post(ctx, path, form)
		if err == nil && code != http.StatusSeeOther {
			err = fmt.Errorf("POST %s as %s: status %d, want 303", path, name, code)
		}
		return err
	}
	whoami := func(want string) error {
		t.requests.Add(1)
		w, code, err := u.whoami(ctx)
		switch {
		case err != nil:
			return err
		case code != http.StatusOK:
			return fmt.Errorf("GET /whoami as %s: status %d", name, code)
		case w.User != want:
			return fmt.Errorf("node %s says user %q, want %q", w.Node, w.User, want)
		}
		return nil
	}
	for _, step := range []func() error{
		func() error { return post("/login", map[string][]string{"user": {name}}) },
		func() error { return whoami(name) },
		func() error { return whoami(name) },
		func() error { return post("/logout", nil) },
		func() error { return whoami("") },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (t *traffic) err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.first
}
