package redistest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A master added, given a share of the slots, then emptied and removed:
// the keys follow their slots, and the cluster ends as it began.
func TestAddRebalanceRemoveMaster(t *testing.T) {
	rc := NewRedisCluster(t, RedisClusterOptions{Replicas: -1})
	ctx := context.Background()
	c := rc.Client()
	defer c.Close()
	const keys = 200
	for i := range keys {
		if err := c.Set(ctx, fmt.Sprint("k", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// checkKeys reads through a new client: one that was idle during the
	// change keeps a slot table naming the removed master until a MOVED
	// or its periodic reload corrects it.
	checkKeys := func(when string) {
		t.Helper()
		c := rc.Client()
		defer c.Close()
		for i := range keys {
			if v, err := c.Get(ctx, fmt.Sprint("k", i)).Int(); err != nil || v != i {
				t.Fatalf("%s: k%d = %d, %v", when, i, v, err)
			}
		}
	}
	countMasters := func(want int) {
		t.Helper()
		masters, err := rc.Masters(ctx)
		if err != nil || len(masters) != want {
			t.Fatalf("masters = %d, %v; want %d", len(masters), err, want)
		}
	}

	start := time.Now()
	s, err := rc.AddMaster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	added := time.Since(start)
	if err := rc.Rebalance(ctx); err != nil {
		t.Fatal(err)
	}
	rebalanced := time.Since(start) - added
	countMasters(4)
	if n, err := slotsOf(ctx, rc.Nodes[0], s.Addr()); err != nil || n < 16384/4-100 {
		t.Fatalf("new master has %d slots, %v", n, err)
	}
	checkKeys("after rebalance")

	start = time.Now()
	if err := rc.RemoveMaster(ctx, s); err != nil {
		t.Fatal(err)
	}
	removed := time.Since(start)
	countMasters(3)
	if s.Running() || len(rc.Addrs()) != 3 {
		t.Fatalf("removed master running %v, %d nodes left", s.Running(), len(rc.Addrs()))
	}
	checkKeys("after removal")
	t.Logf("add-node %v, rebalance onto it %v, remove %v", added.Round(time.Millisecond), rebalanced.Round(time.Millisecond), removed.Round(time.Millisecond))
}
