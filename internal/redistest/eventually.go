package redistest

import (
	"context"
	"testing"
	"time"
)

// Eventually polls check every 25 ms until it returns nil, and fails the
// test if that has not happened within d. Tests use it instead of sleeping
// to wait for a condition (a failover, a replica catching up).
func Eventually(t testing.TB, d time.Duration, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := poll(ctx, check); err != nil {
		t.Fatalf("condition not met within %v: %v", d, err)
	}
}

// Poll is Eventually without a test: it polls check every 25 ms until it
// returns nil or ctx ends, and returns the last error with ctx's.
func Poll(ctx context.Context, check func(ctx context.Context) error) error {
	return poll(ctx, check)
}

// Sleep waits d, or until ctx ends (then it returns ctx's error). It is for
// a pause of a set length, such as a phase of load; to wait for a condition,
// poll for it.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
