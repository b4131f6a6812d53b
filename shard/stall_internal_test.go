package shard

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
)

// pingCounter counts the PINGs a client sends.
type pingCounter struct{ n atomic.Int64 }

func (p *pingCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *pingCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if strings.EqualFold(cmd.Name(), "ping") {
			p.n.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (p *pingCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// The stall guard pings an idle primary only while reads go to the
// replicas: a process that reads from the primary only sends its idle
// primary nothing, and a read of a replica after a quiet spell (which
// asks the sentinels) has it pinged once, so the reads after it need not
// ask them again.
func TestStallGuardPingsOnlyWhileReplicasAreRead(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1, Sentinels: 1})
	deadline := func(t *testing.T, d time.Duration, what string, ok func() bool) {
		t.Helper()
		for end := time.Now().Add(d); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(end) {
				t.Fatalf("after %v: %s", d, what)
			}
		}
	}
	open := func(policy replica.Policy) (*Shard, *pingCounter) {
		s, err := New(Options{
			Name:     "s0",
			Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: top.SentinelAddrs()},
			Replica:  replica.Options{Policy: policy},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		pings := &pingCounter{}
		s.primary.AddHook(pings)
		return s, pings
	}

	t.Run("primary-only", func(t *testing.T) {
		s, pings := open(replica.PrimaryOnly)
		deadline(t, 10*time.Second, "the idle primary has not gone quiet for the stall threshold", func() bool {
			return s.silentFor(2 * s.stallAfter())
		})
		if n := pings.n.Load(); n != 0 {
			t.Fatalf("%d PINGs to an idle primary whose replicas are not read; want 0", n)
		}
		s.ConfirmPrimary() // a read of a replica (WithPolicy) after the quiet spell
		deadline(t, 5*time.Second, "no PING after ConfirmPrimary on a quiet primary", func() bool {
			return pings.n.Load() > 0 && !s.silentFor(s.stallAfter())
		})
	})
	t.Run("replica-preferred", func(t *testing.T) {
		s, pings := open(replica.ReplicaPreferred)
		deadline(t, 10*time.Second, "fewer than 2 PINGs to an idle primary whose replicas are read", func() bool {
			return pings.n.Load() >= 2
		})
		if s.silentFor(s.stallAfter()) {
			t.Fatal("the pinged primary counts as silent")
		}
	})
}

// After a quiet spell, the primary's next answer is confirmed with one
// question to each sentinel (GET-MASTER-ADDR-BY-NAME) when they name it,
// not the three a full look asks: an idle fleet's background commands
// each come after a quiet spell.
func TestStallConfirmationAsksOneQuestion(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1, Sentinels: 1})
	s, err := New(Options{Name: "s0", Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: top.SentinelAddrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Primary().Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	sentinel := redis.NewClient(&redis.Options{Addr: top.SentinelAddrs()[0]})
	defer sentinel.Close()
	processed := func() int64 {
		t.Helper()
		info, err := sentinel.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(info) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
		}
		t.Fatal("no total_commands_processed in the sentinel's INFO stats")
		return 0
	}
	s.lastAnswer.Store(time.Now().Add(-time.Hour).UnixNano()) // a quiet spell
	before := processed()
	if err := s.Primary().Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	asked := processed() - before - 1 // the INFO of the first reading
	if asked != 1 {
		t.Errorf("the sentinel processed %d commands for one confirmation, want 1", asked)
	}
	if s.silentFor(s.stallAfter()) {
		t.Error("the confirmed answer did not count")
	}
}
