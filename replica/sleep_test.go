package replica_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
)

// infoCalls returns how many INFO commands c's server had run before this
// one.
func infoCalls(ctx context.Context, c *redis.Client) (int64, error) {
	raw, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, err
	}
	_, rest, ok := strings.Cut(raw, "cmdstat_info:calls=")
	if !ok {
		return 0, nil
	}
	n, _, _ := strings.Cut(rest, ",")
	return strconv.ParseInt(n, 10, 64)
}

// oneReplica returns a Set over a fresh primary and its one replica.
func oneReplica(t *testing.T, opt replica.Options) (s *replica.Set, primary, rep *redis.Client) {
	t.Helper()
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1})
	sh := top.Shards[0]
	primary, rep = sh.Primary.Client(), sh.Replicas[0].Client()
	t.Cleanup(func() { primary.Close(); rep.Close() })
	s, err := replica.New(primary, []*redis.Client{rep}, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, primary, rep
}

// A Set under PrimaryOnly sends nothing once Idle has passed since anything
// wanted the replicas; a degraded read (Fallback) wakes it and gets the
// replicas checked before it returns, and a request that asks for a replica
// wakes it too.
func TestSleepsWhileNoReadUsesReplicas(t *testing.T) {
	ctx := context.Background()
	s, primary, rep := oneReplica(t, replica.Options{CheckInterval: 20 * time.Millisecond, Idle: 300 * time.Millisecond})
	var err error

	// quiet reports an error unless neither server ran an INFO but ours in
	// a window of many CheckIntervals.
	quiet := func(ctx context.Context) error {
		var before [2]int64
		for i, c := range []*redis.Client{primary, rep} {
			if before[i], err = infoCalls(ctx, c); err != nil {
				return err
			}
		}
		time.Sleep(200 * time.Millisecond) // the window watched, not a wait for a condition
		for i, c := range []*redis.Client{primary, rep} {
			n, err := infoCalls(ctx, c)
			if err != nil {
				return err
			}
			if n-before[i] != 1 {
				return fmt.Errorf("node %d ran %d INFO commands besides ours in 200 ms", i, n-before[i]-1)
			}
		}
		return nil
	}
	// Nothing has wanted the replicas since New: no check at all.
	if err := quiet(ctx); err != nil {
		t.Fatalf("a new PrimaryOnly Set: %v", err)
	}

	// A degraded read wakes it and finds the replica at once.
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if fb := s.Fallback(fctx); len(fb) != 1 || fb[0] != rep {
		t.Fatalf("Fallback after sleeping: %d replicas, want the one", len(fb))
	}
	// It checks for Idle, then sleeps again.
	redistest.Eventually(t, 10*time.Second, quiet)

	// A request that asks for a replica wakes it: served by the primary
	// until the replica has been checked, then by the replica.
	rctx := replica.WithPolicy(ctx, replica.ReplicaPreferred)
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if c, isReplica := s.Pick(rctx); !isReplica || c != rep {
			return fmt.Errorf("read served by %s", c.Options().Addr)
		}
		return nil
	})
	if st := s.Status()[0]; !st.Healthy {
		t.Fatalf("status after waking: %+v", st)
	}
}

// A Set whose policy reads from replicas never sleeps.
func TestNeverSleepsUnderAReplicaPolicy(t *testing.T) {
	ctx := context.Background()
	_, _, rep := oneReplica(t, replica.Options{Policy: replica.ReplicaPreferred, CheckInterval: 20 * time.Millisecond, Idle: 50 * time.Millisecond})
	before, err := infoCalls(ctx, rep)
	if err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		n, err := infoCalls(ctx, rep)
		if err != nil {
			return err
		}
		if n-before < 20 { // well past Idle at 20 ms a check
			return fmt.Errorf("%d checks so far", n-before-1)
		}
		return nil
	})
}
