package redistest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

func TestTopologyNoSentinels(t *testing.T) {
	top := NewTopology(t, TopologyOptions{Shards: 2})
	if got := len(top.PrimaryAddrs()); got != 2 {
		t.Fatalf("%d primaries, want 2", got)
	}
	if got := len(top.SentinelAddrs()); got != 0 {
		t.Fatalf("%d sentinels, want 0", got)
	}
	for i, sh := range top.Shards {
		if want := fmt.Sprintf("s%d", i); sh.Name != want {
			t.Errorf("shard %d named %q, want %q", i, sh.Name, want)
		}
		c := sh.Primary.Client()
		if err := c.Ping(t.Context()).Err(); err != nil {
			t.Errorf("%s: %v", sh.Name, err)
		}
		c.Close()
	}
	if err := top.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(top.Dir); !os.IsNotExist(err) {
		t.Errorf("topology dir %s still there after Close: %v", top.Dir, err)
	}
}

func TestTopologySentinelFailover(t *testing.T) {
	start := time.Now()
	top := NewTopology(t, TopologyOptions{
		Shards:          3,
		Replicas:        1,
		Sentinels:       3,
		DownAfter:       1000 * time.Millisecond,
		FailoverTimeout: 3000 * time.Millisecond,
	})
	t.Logf("topology up in %v", time.Since(start))
	sh := top.Shard("s0")
	for _, s := range top.Sentinels {
		got, err := s.MasterAddr(t.Context(), sh.Name)
		if err != nil {
			t.Fatal(err)
		}
		if got != sh.Primary.Addr() {
			t.Fatalf("%s says master of s0 is %s, want %s", s.Name, got, sh.Primary.Addr())
		}
	}

	killed := time.Now()
	if err := sh.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	want := sh.Replicas[0].Addr()
	for _, s := range top.Sentinels {
		eventually(t, 20*time.Second, func(ctx context.Context) error {
			got, err := s.MasterAddr(ctx, sh.Name)
			if err == nil && got != want {
				err = fmt.Errorf("%s says master of s0 is %s, want %s", s.Name, got, want)
			}
			return err
		})
	}
	t.Logf("all sentinels report the replica as master %v after the kill", time.Since(killed))

	c := sh.Replicas[0].Client()
	defer c.Close()
	eventually(t, 5*time.Second, func(ctx context.Context) error {
		return c.Set(ctx, "k", "v", 0).Err()
	})
	t.Logf("first write on the new primary %v after the kill", time.Since(killed))

	// A sentinel restarted from its rewritten config knows the new primary.
	s0 := top.Sentinels[0]
	if err := s0.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s0.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err := s0.MasterAddr(t.Context(), sh.Name)
	if err != nil || got != want {
		t.Fatalf("restarted %s says master of s0 is %q, %v; want %s", s0.Name, got, err, want)
	}
}
