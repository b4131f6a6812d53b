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
	"github.com/shardsession/shardsession/replica"
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
	// Replicas are found through the sentinels, each with its own client;
	// Addr names the node behind the Sentinel-pointed primary client, whose
	// own Options().Addr is a placeholder.
	<-sh.Reads().Checked()
	if len(sh.Replicas()) != 1 {
		t.Fatalf("replicas found: %d, want 1", len(sh.Replicas()))
	}
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
	// the switch (+odown, then -odown); the breaker stays closed while the
	// new primary answers.
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		st := sh.Stats()
		if st.Switches < 1 || st.DegradedReads < 1 || degraded.Load() < 1 || st.Breaker != failover.Closed {
			return fmt.Errorf("stats %+v, hook saw %d degraded reads", st, degraded.Load())
		}
		return nil
	})
}

// A primary paused past a failover and then resumed still calls itself
// primary, and accepts writes, until the sentinels turn it into a replica
// of the new one. Meanwhile Sentinel already lists it among the replicas.
// Once the shard has heard of the switch, its data (a branch of history the
// failover discarded) never answers a read, nor does a replica still
// attached to it: replicas serve only once checked to follow the current
// primary.
func TestDeposedPrimaryNeverServesReads(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 2, Sentinels: 3, DownAfter: time.Second, FailoverTimeout: 3 * time.Second})
	sh, err := shard.New(shard.Options{
		Name:     "s0",
		Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: top.SentinelAddrs()},
		Replica:  replica.Options{Policy: replica.ReplicaPreferred, CheckInterval: 50 * time.Millisecond, MaxLag: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	ctx := context.Background()
	if err := sh.Primary().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if n := sh.Reads().Healthy(); n != 2 {
			return fmt.Errorf("%d replicas serve: %+v", n, sh.Reads().Status())
		}
		return nil
	})
	old := top.Shards[0].Primary
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	// The promise starts once this process has heard of the switch: until
	// then a replica still attached to the deposed primary passes every
	// check (see docs/consistency.md).
	redistest.Eventually(t, 20*time.Second, func(ctx context.Context) error {
		if sh.Stats().Switches == 0 {
			return errors.New("no switch heard yet")
		}
		return nil
	})

	// Readers pick nodes as a web request would, while the old primary
	// comes back and a writer keeps writing to it directly.
	stop := make(chan struct{})
	var reads, divergedReads, divergedPrimary, deposedPicks atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, isReplica := sh.Reads().Pick(ctx)
				if sh.Addr(c) == old.Addr() {
					deposedPicks.Add(1)
				}
				if v, err := c.Get(ctx, "k").Result(); err == nil {
					reads.Add(1)
					if v == "diverged" {
						divergedReads.Add(1)
						if divergedReads.Load() == 1 {
							t.Logf("first read of the deposed primary's write: from %s (replica %v), replicas %+v", sh.Addr(c), isReplica, sh.Reads().Status())
						}
						if !isReplica {
							divergedPrimary.Add(1)
						}
					}
				}
			}
		})
	}
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	direct := old.Client()
	defer direct.Close()
	accepted := 0
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if err := direct.Set(ctx, "k", "diverged", 0).Err(); err == nil {
			accepted++
		} else if strings.Contains(err.Error(), "READONLY") {
			break // a replica now: its divergent data goes with the resync
		}
	}
	// Keep reading while the old primary resyncs and rejoins as a replica.
	redistest.Eventually(t, 20*time.Second, func(context.Context) error {
		for _, st := range sh.Reads().Status() {
			if st.Addr == old.Addr() && st.Healthy {
				return nil
			}
		}
		return fmt.Errorf("the old primary does not serve as a replica yet: %+v", sh.Reads().Status())
	})
	close(stop)
	wg.Wait()
	if accepted == 0 {
		t.Fatal("the resumed primary took no write: nothing was tested")
	}
	if divergedReads.Load() != 0 {
		t.Fatalf("%d of %d reads returned the deposed primary's write, %d of them through the primary's client (%d picks of it)",
			divergedReads.Load(), reads.Load(), divergedPrimary.Load(), deposedPicks.Load())
	}
	t.Logf("%d reads, %d writes accepted by the deposed primary, none read; %d picks of it once it was a replica", reads.Load(), accepted, deposedPicks.Load())
}

// However many shards a process has, it holds one connection to each
// sentinel: the subscription that hears the switches carries the shards'
// questions too (their primaries and replicas), and the primaries' clients
// hold none of their own.
func TestOneConnectionPerSentinel(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1, Sentinels: 2})
	ctx := context.Background()
	for _, s := range top.Shards {
		sh, err := shard.New(shard.Options{
			Name:     s.Name,
			Sentinel: &failover.Options{MasterName: s.Name, SentinelAddrs: top.SentinelAddrs()},
			Replica:  replica.Options{Policy: replica.ReplicaPreferred}, // asks the sentinels for the replicas
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sh.Close()
		if err := sh.Primary().Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		<-sh.Reads().Checked()
		if len(sh.Replicas()) != 1 {
			t.Fatalf("%s: %d replicas found, want 1", s.Name, len(sh.Replicas()))
		}
	}
	for _, sen := range top.Sentinels {
		c := redis.NewClient(&redis.Options{Addr: sen.Addr(), ClientName: "test-probe", MaxRetries: -1})
		defer c.Close()
		list, err := c.Do(ctx, "CLIENT", "LIST").Text()
		if err != nil {
			t.Fatal(err)
		}
		ours := 0
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			switch {
			case strings.Contains(line, " name=shardsession-sentinel "):
				ours++
				if !strings.Contains(line, " flags=P ") {
					t.Errorf("%s: the process's connection is not subscribed: %s", sen.Name, line)
				}
			case strings.Contains(line, " name=test-probe "), strings.Contains(line, " name=sentinel-"):
				// this test's own, and the other sentinels'
			default:
				t.Errorf("%s: a connection besides the process's one: %s", sen.Name, line)
			}
		}
		if ours != 1 {
			t.Errorf("%s: %d connections of the process, want 1:\n%s", sen.Name, ours, list)
		}
	}
}
