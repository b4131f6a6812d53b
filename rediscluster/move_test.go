package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// slotMove moves one slot between two masters of the shared cluster by
// hand, the way redis-cli --cluster reshard does.
type slotMove struct {
	slot     int64
	src, dst *redis.Client
	dstID    string
}

func newSlotMove(t *testing.T, key string) *slotMove {
	t.Helper()
	ctx := context.Background()
	src, err := shared.MasterForKey(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	masters, err := shared.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dst *redistest.Server
	for _, m := range masters {
		if m != src {
			dst = m
			break
		}
	}
	m := &slotMove{src: src.Client(), dst: dst.Client()}
	t.Cleanup(func() { m.src.Close(); m.dst.Close() })
	if m.slot, err = m.src.ClusterKeySlot(ctx, key).Result(); err != nil {
		t.Fatal(err)
	}
	if m.dstID, err = m.dst.Do(ctx, "CLUSTER", "MYID").Text(); err != nil {
		t.Fatal(err)
	}
	srcID, err := m.src.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	// Start: the target imports, the source migrates.
	for _, step := range []struct {
		c    *redis.Client
		args []any
	}{
		{m.dst, []any{"CLUSTER", "SETSLOT", m.slot, "IMPORTING", srcID}},
		{m.src, []any{"CLUSTER", "SETSLOT", m.slot, "MIGRATING", m.dstID}},
	} {
		if err := step.c.Do(ctx, step.args...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// migrate moves key to the target (MIGRATE ... KEYS).
func (m *slotMove) migrate(t *testing.T, key string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(m.dst.Options().Addr)
	p, _ := strconv.Atoi(port)
	if err := m.src.Migrate(context.Background(), host, strconv.Itoa(p), key, 0, 5*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
}

// finish gives the slot to the target on every master.
func (m *slotMove) finish(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	masters, err := shared.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range masters {
		c := s.Client()
		err := c.Do(ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.dstID).Err()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// redirectSeen is a go-redis hook that reports the first reply starting
// with prefix on seen.
type redirectSeen struct {
	prefix string
	seen   chan struct{}
}

func (h *redirectSeen) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *redirectSeen) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *redirectSeen) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil && strings.HasPrefix(err.Error(), h.prefix) {
			select {
			case h.seen <- struct{}{}:
			default:
			}
		}
		return err
	}
}

// A delete with WAIT runs on a connection of the master the client's slot
// table names, where go-redis follows no redirection: the store retries a
// delete refused with ASK while the slot moves, and one refused with MOVED
// once it has moved, until the slot table is right.
func TestDeleteDuringSlotMove(t *testing.T) {
	c := newCluster(t, Options{Durability: Durability{DeleteReplicas: 1, Timeout: time.Second}})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for _, id := range []string{"ask", "moved"} {
		create(t, c, id, exp)
	}

	t.Run("ASK while migrating", func(t *testing.T) {
		m := newSlotMove(t, c.Key("ask"))
		m.migrate(t, c.Key("ask"))
		hook := &redirectSeen{prefix: "ASK", seen: make(chan struct{}, 1)}
		c.Client().OnNewNode(func(n *redis.Client) { n.AddHook(hook) })
		c.Client().ForEachShard(ctx, func(_ context.Context, n *redis.Client) error { n.AddHook(hook); return nil })
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			done <- c.Delete(ctx, "ask")
		}()
		select {
		case <-hook.seen: // the delete met the move; now finish it
		case err := <-done:
			t.Fatalf("Delete returned %v before meeting the slot move", err)
		}
		m.finish(t)
		if err := <-done; err != nil {
			t.Fatalf("Delete during the move = %v", err)
		}
		if ok, err := c.Exists(ctx, "ask"); ok || err != nil {
			t.Fatalf("Exists after Delete = %v, %v", ok, err)
		}
	})

	t.Run("MOVED with a stale slot table", func(t *testing.T) {
		before := c.Locate("moved") // the client's table, soon stale
		m := newSlotMove(t, c.Key("moved"))
		m.migrate(t, c.Key("moved"))
		m.finish(t)
		if c.Locate("moved") != before {
			t.Skip("the client saw the move already")
		}
		if err := c.Delete(ctx, "moved"); err != nil {
			t.Fatalf("Delete after the move = %v", err)
		}
		if ok, err := c.Exists(ctx, "moved"); ok || err != nil {
			t.Fatalf("Exists after Delete = %v, %v", ok, err)
		}
		if got := c.Locate("moved"); got == before {
			t.Fatalf("slot table still names %s", before)
		}
	})

	// The cluster is consistent again for the other tests.
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if err := shared.WaitOK(ctx); err != nil {
			return err
		}
		if _, _, err := c.Load(ctx, "x", store.LoadOptions{}); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load: %w", err)
		}
		return nil
	})
}
