package fleet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// FailoverReport is what one user saw while the primary of their session's
// shard was killed and Sentinel promoted a replica.
type FailoverReport struct {
	// Shard is the shard whose primary was killed.
	Shard string
	// Reads and FailedReads count the "who am I" requests made until a
	// login worked again; a read that answered but forgot the user is not
	// counted: it ends SmokeFailover with an error.
	Reads, FailedReads int
	// FailedLogins counts logins refused (503) while the shard had no
	// primary.
	FailedLogins int
	// WritesBack is the time from the kill to the first login that worked.
	WritesBack time.Duration
}

// SmokeFailover plays one user against the fleet at base through the loss
// of a primary: log in, kill the primary of the shard holding the session
// (kill returns a line describing what it killed), then keep asking "who
// am I" and trying to log in as someone else until a login works, within
// timeout. Every answer must know the user: during the failover reads are
// served by replicas or fail with 503, never with an empty session. After
// it, every node must know the new login.
func SmokeFailover(ctx context.Context, base string, nodes int, kill func(shard string) (string, error), timeout time.Duration, out io.Writer) (*FailoverReport, error) {
	u := newUser(base, out)
	if code, err := u.login(ctx, "grace"); err != nil || code != http.StatusSeeOther {
		return nil, fmt.Errorf("failover smoke: first login: status %d, %v", code, err)
	}
	w, code, err := u.whoami(ctx)
	if err != nil || code != http.StatusOK || w.User != "grace" {
		return nil, fmt.Errorf("failover smoke: whoami after login: status %d, %+v, %v", code, w, err)
	}
	r := &FailoverReport{Shard: w.Shard}
	what, err := kill(w.Shard)
	if err != nil {
		return nil, fmt.Errorf("failover smoke: kill the primary of %s: %w", w.Shard, err)
	}
	fmt.Fprintf(out, "killed %s\n", what)
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		r.Reads++
		w, code, err := u.whoami(ctx)
		switch {
		case err == nil && code == http.StatusOK && w.User != "grace":
			return r, fmt.Errorf("failover smoke: node %s answered user %q during the failover, want \"grace\"", w.Node, w.User)
		case err != nil || code != http.StatusOK:
			r.FailedReads++
		}
		code, err = u.login(ctx, "hopper")
		if err == nil && code == http.StatusSeeOther {
			break
		}
		if ctx.Err() != nil {
			return r, fmt.Errorf("failover smoke: no login worked within %v of the kill (last: status %d, %v)", timeout, code, err)
		}
		r.FailedLogins++
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.WritesBack = time.Since(t0)
	fmt.Fprintf(out, "failover: %d reads (%d failed), %d logins refused, logins work again %d ms after the kill\n",
		r.Reads, r.FailedReads, r.FailedLogins, r.WritesBack.Milliseconds())
	for range nodes {
		w, code, err := u.whoami(ctx)
		if err != nil || code != http.StatusOK || w.User != "hopper" {
			return r, fmt.Errorf("failover smoke: whoami after the failover: status %d, %+v, %v", code, w, err)
		}
	}
	fmt.Fprintln(out, "failover smoke: ok — the fleet carried on")
	return r, nil
}
