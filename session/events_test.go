package session_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/session"
)

// recorder collects events.
type recorder struct {
	mu     sync.Mutex
	events []session.Event
}

func (r *recorder) add(e session.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// seen reports whether an event of kind for id was recorded, and on which shard.
func (r *recorder) seen(kind session.EventKind, id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Kind == kind && e.ID == id {
			return e.Shard, true
		}
	}
	return "", false
}

// onShard saves a new session of m on the named shard and returns its
// context; errors (a shard coming back) are returned for the caller to retry.
func onShard(m *session.Manager, shard string) (context.Context, error) {
	for range 200 {
		ctx, err := m.Load(context.Background(), "")
		if err != nil {
			return nil, err
		}
		m.Put(ctx, "k", "v")
		if _, _, err := m.Commit(ctx); err != nil {
			return nil, err
		}
		if name, _ := m.Shard(ctx); name == shard {
			return ctx, nil
		}
		if err := m.Destroy(ctx); err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no session landed on %s", shard)
}

// observe repeats act (which returns the ID it expects an event of kind
// for) until the event is recorded, from the right shard, within wait;
// acts before the subscriptions are up (or while a shard restarts) are
// simply repeated.
func observe(t *testing.T, rec *recorder, kind session.EventKind, shard string, wait time.Duration, act func() (string, error)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		id, err := act()
		if err != nil {
			time.Sleep(50 * time.Millisecond) // the shard is coming back: try again
			continue
		}
		until := time.Now().Add(wait)
		for time.Now().Before(until) {
			if got, ok := rec.seen(kind, id); ok {
				if got != shard {
					t.Fatalf("%s event of a session on %s reported from %s", kind, shard, got)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Fatalf("no %s event observed on %s", kind, shard)
}

// Acceptance: created, destroyed and expired events are observed on every
// shard, also after a primary is killed and restarted (which loses the
// notify-keyspace-events setting and the subscription); over a Cluster
// (a subscription per shard) and over a NearCache (subscribed on its
// tracking connections).
func TestEventsOnEveryShardAcrossRestart(t *testing.T) {
	for _, near := range []bool{false, true} {
		t.Run(fmt.Sprintf("nearcache=%v", near), func(t *testing.T) { eventsAcrossRestart(t, near) })
	}
}

func eventsAcrossRestart(t *testing.T, near bool) {
	m, c, top := newManager(t)
	var st session.Store = c
	if near {
		nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		st = nc
		m = session.New(nc)
		m.Cookie.Name, m.Cookie.Secure = "session", false
	}
	m.PublishEvents = true
	short := session.New(st)
	short.IdleTimeout = 200 * time.Millisecond

	rec := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.WatchEvents(ctx, rec.add) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("WatchEvents returned %v", err)
		}
	}()

	check := func(t *testing.T, shard string) {
		observe(t, rec, session.EventCreated, shard, 300*time.Millisecond, func() (string, error) {
			sctx, err := onShard(m, shard)
			if err != nil {
				return "", err
			}
			return m.ID(sctx), nil
		})
		observe(t, rec, session.EventDestroyed, shard, 300*time.Millisecond, func() (string, error) {
			sctx, err := onShard(m, shard)
			if err != nil {
				return "", err
			}
			id := m.ID(sctx)
			return id, m.Destroy(sctx)
		})
		observe(t, rec, session.EventRenewed, shard, 300*time.Millisecond, func() (string, error) {
			for range 50 {
				sctx, err := onShard(m, shard)
				if err != nil {
					return "", err
				}
				m.RenewToken(sctx)
				if _, _, err := m.Commit(sctx); err != nil {
					return "", err
				}
				if name, _ := m.Shard(sctx); name == shard {
					return m.ID(sctx), nil
				}
			}
			return "", fmt.Errorf("no renewal landed on %s", shard)
		})
		observe(t, rec, session.EventExpired, shard, 3*time.Second, func() (string, error) {
			sctx, err := onShard(short, shard)
			if err != nil {
				return "", err
			}
			return short.ID(sctx), nil // idles out in 200 ms; Redis announces it
		})
	}
	for _, s := range top.Shards {
		t.Run(s.Name, func(t *testing.T) { check(t, s.Name) })
	}
	if near {
		// The events came on the tracking connections: no other
		// connection is subscribed.
		for _, s := range top.Shards {
			rdb := s.Primary.Client()
			list, err := rdb.ClientList(context.Background()).Result()
			rdb.Close()
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
				if strings.Contains(line, " sub=") && !strings.Contains(line, " sub=0 ") && !strings.Contains(line, " name=shardsession-tracking ") {
					t.Errorf("%s: a subscription of its own: %s", s.Name, line)
				}
			}
		}
	}

	s1 := top.Shards[1]
	if err := s1.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s1.Primary.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Run(s1.Name+" after restart", func(t *testing.T) { check(t, s1.Name) })
	for _, s := range top.Shards {
		t.Run(s.Name+" still", func(t *testing.T) {
			observe(t, rec, session.EventExpired, s.Name, 3*time.Second, func() (string, error) {
				sctx, err := onShard(short, s.Name)
				if err != nil {
					return "", err
				}
				return short.ID(sctx), nil
			})
		})
	}
}
