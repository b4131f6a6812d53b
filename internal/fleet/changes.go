package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Change is one change to the fleet's Redis side that SmokeChanges makes
// while users are logged in: Run makes it (for example `shardsession
// reshard --add`, or the failover of a shard's primary) and returns once it
// is done. shard is the shard that holds the logged-in user's session.
type Change struct {
	Name string
	Run  func(ctx context.Context, shard string) error
	// Outage says the change makes the shard unavailable for a while (a
	// failover): requests may fail meanwhile (503); none may answer wrong.
	Outage bool
}

// SmokeChanges plays users against the fleet at base while changes are
// made: one user logs in before the first change and must be known on
// every node after each; meanwhile other users log in, read and log out
// without pause, and every answer must be right (a logged-in user known, a
// logged-out one not) and, but during an Outage change, none may fail. At
// the end the first user logs out, and no node knows them any more. It
// prints what it does to out.
func SmokeChanges(ctx context.Context, base string, nodes int, changes []Change, out io.Writer) error {
	u := newUser(base, out)
	if code, err := u.login(ctx, "lovelace"); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("smoke: login: status %d, %v", code, err)
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
		return fmt.Errorf("smoke: %w", err)
	}
	fmt.Fprintf(out, "smoke: logged in; the session lives on shard %s\n", shard)

	tctx, stop := context.WithCancel(ctx)
	t := &traffic{base: base}
	var wg sync.WaitGroup
	wg.Go(func() { t.run(tctx) })
	for _, ch := range changes {
		fmt.Fprintf(out, "smoke: %s\n", ch.Name)
		t.outage.Store(ch.Outage)
		err = ch.Run(ctx, shard)
		if err == nil && ch.Outage {
			err = t.recovered(ctx)
		}
		t.outage.Store(false)
		if err != nil {
			err = fmt.Errorf("smoke: %s: %w", ch.Name, err)
			break
		}
		if shard, err = everyNode("lovelace"); err != nil {
			err = fmt.Errorf("smoke: after %s: %w", ch.Name, err)
			break
		}
		fmt.Fprintf(out, "smoke: after %s every node still knows the user; the session lives on shard %s\n", ch.Name, shard)
	}
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	if err := t.err(); err != nil {
		return fmt.Errorf("smoke: traffic during the changes: %w", err)
	}
	if code, err := u.post(ctx, "/logout", nil); err != nil || code != http.StatusSeeOther {
		return fmt.Errorf("smoke: logout: status %d, %v", code, err)
	}
	if _, err := everyNode(""); err != nil {
		return fmt.Errorf("smoke: after logout: %w", err)
	}
	failed := ""
	if n := t.failed.Load(); n > 0 {
		failed = fmt.Sprintf(" (%d failed during the outage)", n)
	}
	fmt.Fprintf(out, "smoke: ok — %d requests of other users during the changes%s, none answered wrong\n", t.requests.Load(), failed)
	return nil
}

// traffic is users logging in, reading and logging out in a loop, quietly.
type traffic struct {
	base             string
	requests, failed atomic.Int64
	outage           atomic.Bool  // failures are tolerated (counted)
	ok               atomic.Int64 // visits that completed

	mu    sync.Mutex
	first error
}

func (t *traffic) run(ctx context.Context) {
	for i := 0; ctx.Err() == nil; i++ {
		err := t.visit(ctx, fmt.Sprintf("user%d", i))
		switch {
		case err == nil:
			t.ok.Add(1)
		case ctx.Err() != nil:
		case errors.As(err, new(*failure)) && t.outage.Load():
			t.failed.Add(1)
		default:
			t.mu.Lock()
			if t.first == nil {
				t.first = err
			}
			t.mu.Unlock()
			return
		}
	}
}

// recovered waits until a visit completes after an outage.
func (t *traffic) recovered(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	from := t.ok.Load()
	for t.ok.Load() < from+1 {
		if err := t.err(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no user could log in, read and log out within 30 s: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// failure is a request that failed (an error status or no answer), as
// opposed to one answered wrong.
type failure struct{ err error }

func (f *failure) Error() string { return f.err.Error() }

// visit logs name in, reads twice, logs out and reads again.
func (t *traffic) visit(ctx context.Context, name string) error {
	u := newUser(t.base, io.Discard)
	post := func(path string, form map[string][]string) error {
		t.requests.Add(1)
		code, err := u.post(ctx, path, form)
		if err == nil && code != http.StatusSeeOther {
			err = fmt.Errorf("POST %s as %s: status %d, want 303", path, name, code)
		}
		if err != nil {
			return &failure{err}
		}
		return nil
	}
	whoami := func(want string) error {
		t.requests.Add(1)
		w, code, err := u.whoami(ctx)
		switch {
		case err != nil:
			return &failure{err}
		case code != http.StatusOK:
			return &failure{fmt.Errorf("GET /whoami as %s: status %d", name, code)}
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
