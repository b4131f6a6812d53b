package redistest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// A client of the forwarder's fixed address reaches the first server,
// loses its connection when the forwarder is repointed, and reaches the
// second one on reconnecting; Close ends every relay.
func TestForwarderRepoint(t *testing.T) {
	a := NewServer(t, Options{Name: "fwd-a"})
	b := NewServer(t, Options{Name: "fwd-b"})
	ctx := t.Context()
	for _, s := range []*Server{a, b} {
		c := s.Client()
		err := c.Set(ctx, "who", s.Name, 0).Err()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := NewForwarder(t, a.Addr())
	c := redis.NewClient(&redis.Options{Addr: f.Addr(), DisableIdentity: true, MaxRetries: -1, PoolSize: 1})
	defer c.Close()
	if got, err := c.Get(ctx, "who").Result(); err != nil || got != "fwd-a" {
		t.Fatalf("before Repoint: who = %q, %v; want fwd-a", got, err)
	}
	if n := f.Conns(); n != 1 {
		t.Fatalf("Conns = %d, want 1", n)
	}
	f.Repoint(b.Addr())
	if got := f.Target(); got != b.Addr() {
		t.Fatalf("Target = %s, want %s", got, b.Addr())
	}
	// The pooled connection was closed by the repoint: the first command
	// on it fails (no retries), the next dials again.
	eventually(t, 5*time.Second, func(ctx context.Context) error {
		got, err := c.Get(ctx, "who").Result()
		if err != nil || got != "fwd-b" {
			return fmt.Errorf("after Repoint: who = %q, %v; want fwd-b", got, err)
		}
		return nil
	})
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := f.Conns(); n != 0 {
		t.Errorf("Conns after Close = %d, want 0", n)
	}
	if err := c.Ping(ctx).Err(); err == nil {
		t.Error("PING through a closed forwarder succeeded")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A forwarder whose target is down closes the client's connection, as an
// endpoint whose node died does: the client sees an error, not a hang.
func TestForwarderDeadTarget(t *testing.T) {
	s := NewServer(t, Options{Name: "fwd-dead"})
	f := NewForwarder(t, s.Addr())
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(&redis.Options{Addr: f.Addr(), DisableIdentity: true, MaxRetries: -1, ReadTimeout: 2 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := c.Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING through a forwarder to a dead server succeeded")
	}
	if errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("PING took %v (%v), want a quick error", time.Since(start), err)
	}
}

func TestStartForwarderBadTarget(t *testing.T) {
	for _, target := range []string{"", "no-port", "1.2.3.4"} {
		if f, err := StartForwarder(target); err == nil {
			f.Close()
			t.Errorf("StartForwarder(%q) = nil error", target)
		}
	}
}
