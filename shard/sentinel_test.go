package shard_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A shard configured by Sentinel master name follows a failover: while the
// primary is dead, writes fail fast with ErrUnavailable naming the shard and
// reads are served by the replica; after the switch, writes go to the new
// primary, and the switch is logged with the old and new addresses.
func TestSentinelFailover(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1, Sentinels: 3, DownAfter: time.Second, FailoverTimeout: 3 * time.Second})
	var logs syncBuffer
	var degraded atomic.Int64
	sh, err := shard.New(shard.Options{
		Name:     "s0",
		Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: top.SentinelAddrs(), Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		OnDegradedRead: func(name string, err error) {
			if name == "s0" && errors.Is(err, shard.ErrUnavailable) || shard.IsUnavailable(err) {
				degraded.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	ctx := context.Background()
	if err := sh.Primary().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := sh.Primary().Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 = %d, %v", n, err)
	}
	old := top.Shards[0].Primary
	// Addr names the nodes behind the Sentinel-pointed clients, whose own
	// Options().Addr is a placeholder.
	if err := sh.Replicas()[0].Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := sh.Addr(sh.Replicas()[0]), top.Shards[0].Replicas[0].Addr(); got != want {
		t.Errorf("Addr(replicas) = %q, want %q", got, want)
	}
	if got := sh.Addr(sh.Primary()); got != old.Addr() {
		t.Errorf("Addr(primary) = %q, want %q", got, old.Addr())
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}

	// Writes fail with ErrUnavailable naming the shard; once the breaker is
	// open they fail without waiting for the network.
	var fast time.Duration = time.Hour
	for range 6 {
		start := time.Now()
		err := sh.Primary().Set(ctx, "k", "w", 0).Err()
		if err == nil {
			break // already switched
		}
		if err := sh.Wrap(err); !errors.Is(err, shard.ErrUnavailable) || !strings.Contains(err.Error(), "shard s0") {
			t.Fatalf("write to a dead primary: %v, want ErrUnavailable naming s0", err)
		}
		fast = min(fast, time.Since(start))
	}
	if fast > 100*time.Millisecond {
		t.Errorf("fastest failed write took %v: the breaker did not open", fast)
	}

	// Reads are served by the replica meanwhile.
	var got string
	if err := sh.Read(ctx, func(ctx context.Context, c redis.Cmdable) (err error) {
		got, err = c.Get(ctx, "k").Result()
		return err
	}); err != nil || got != "v" {
		t.Fatalf("degraded read = %q, %v; want v from the replica", got, err)
	}

	redistest.Eventually(t, 20*time.Second, func(ctx context.Context) error {
		return sh.Primary().Set(ctx, "k", "after", 0).Err()
	})
	// The client may have learned the switch from another sentinel first.
	var newAddr string
	redistest.Eventually(t, 5*time.Second, func(ctx context.Context) (err error) {
		newAddr, err = top.Sentinels[0].MasterAddr(ctx, "s0")
		if err == nil && newAddr == old.Addr() {
			err = errors.New("sentinel0 still names the old primary")
		}
		return err
	})
	if got := sh.Addr(sh.Primary()); got != newAddr {
		t.Errorf("Addr(primary) after the switch = %q, want %q", got, newAddr)
	}
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		want := fmt.Sprintf("shard=s0 old=%s new=%s", old.Addr(), newAddr)
		if !strings.Contains(logs.String(), want) {
			return fmt.Errorf("log has no %q:\n%s", want, logs.String())
		}
		return nil
	})
	// A sentinel may still flag the new primary down for a moment after
	// the switch (+odown, then -odown), which trips the breaker briefly.
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		st := sh.Stats()
		if st.Switches < 1 || st.DegradedReads < 1 || degraded.Load() < 1 || st.Breaker != failover.Closed {
			return fmt.Errorf("stats %+v, hook saw %d degraded reads", st, degraded.Load())
		}
		return nil
	})
}
