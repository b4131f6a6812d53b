package replica

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeSet is a Set whose replicas' health is set by hand; no checks run.
func fakeSet(policy Policy, healthy ...bool) (*Set, []*redis.Client) {
	s := &Set{opt: Options{Policy: policy}, primary: redis.NewClient(&redis.Options{Addr: "primary:1"})}
	var clients []*redis.Client
	var nodes []*node
	for i, h := range healthy {
		c := redis.NewClient(&redis.Options{Addr: "replica:" + string(rune('1'+i))})
		nd := &node{client: c, addr: c.Options().Addr}
		nd.healthy.Store(h)
		nd.latency.Store(int64(time.Duration(i+2) * time.Millisecond))
		nd.status.Store(&Status{Addr: nd.addr, Healthy: h})
		nodes = append(nodes, nd)
		clients = append(clients, c)
	}
	s.nodes.Store(&nodes)
	checked := make(chan struct{})
	close(checked)
	s.checked.Store(&checked)
	return s, clients
}

func TestPick(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		policy   Policy
		healthy  []bool
		primLat  time.Duration
		override *Policy
		want     []string // addresses over successive picks
	}{
		{"primary only", PrimaryOnly, []bool{true, true}, 0, nil, []string{"primary:1", "primary:1"}},
		{"round robin", ReplicaPreferred, []bool{true, true}, 0, nil, []string{"replica:2", "replica:1", "replica:2"}},
		{"skips unhealthy", ReplicaPreferred, []bool{true, false, true}, 0, nil, []string{"replica:3", "replica:3", "replica:1"}},
		{"falls back to primary", ReplicaPreferred, []bool{false, false}, 0, nil, []string{"primary:1"}},
		{"no replicas", ReplicaPreferred, nil, 0, nil, []string{"primary:1"}},
		{"lowest latency replica", LowestLatency, []bool{true, true}, 10 * time.Millisecond, nil, []string{"replica:1", "replica:1"}},
		{"lowest latency skips unhealthy", LowestLatency, []bool{false, true}, 10 * time.Millisecond, nil, []string{"replica:2"}},
		{"lowest latency primary", LowestLatency, []bool{true, true}, time.Millisecond, nil, []string{"primary:1"}},
		{"context override", ReplicaPreferred, []bool{true}, 0, ptr(PrimaryOnly), []string{"primary:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := fakeSet(tt.policy, tt.healthy...)
			s.primLat.Store(int64(tt.primLat))
			ctx := ctx
			if tt.override != nil {
				ctx = WithPolicy(ctx, *tt.override)
			}
			for i, want := range tt.want {
				c, isReplica := s.Pick(ctx)
				if got := c.Options().Addr; got != want || isReplica != (want != "primary:1") {
					t.Fatalf("pick %d = %s (replica %v), want %s", i, got, isReplica, want)
				}
			}
		})
	}
}

func TestMarkDown(t *testing.T) {
	s, clients := fakeSet(ReplicaPreferred, true, true)
	s.MarkDown(clients[0], context.DeadlineExceeded)
	if s.Healthy() != 1 || s.Status()[0].Healthy || s.Status()[0].Reason == "" {
		t.Fatalf("after MarkDown: %+v", s.Status())
	}
	for range 4 {
		if c, _ := s.Pick(context.Background()); c != clients[1] {
			t.Fatalf("picked %s, a replica marked down", c.Options().Addr)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	for _, p := range []Policy{PrimaryOnly, ReplicaPreferred, LowestLatency} {
		got, err := ParsePolicy(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePolicy(%q) = %v, %v", p, got, err)
		}
	}
	if _, err := ParsePolicy("nearest"); err == nil {
		t.Error("ParsePolicy accepted an unknown name")
	}
	if _, err := New(nil, nil, Options{Policy: 7}); err == nil {
		t.Error("New accepted an unknown policy")
	}
}

func ptr[T any](v T) *T { return &v }

// Once the current primary is known, a replica serves reads only while its
// last check found it following that primary; Fallback lists the same ones.
func TestFollowsCurrentPrimary(t *testing.T) {
	s, clients := fakeSet(ReplicaPreferred, true, true, true)
	masters := []string{"primary:1", "old:1", ""}
	for i, nd := range s.list() {
		if m := masters[i]; m != "" {
			nd.master.Store(&m)
		}
	}
	ctx := context.Background()
	tests := []struct {
		name    string
		primary string // "" leaves it unknown
		serve   []*redis.Client
	}{
		{"primary unknown", "", clients},
		{"primary known", "primary:1", clients[:1]},
		{"after a switch", "old:1", clients[1:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.SetPrimary(tt.primary)
			seen := map[*redis.Client]bool{}
			for range 6 {
				c, isReplica := s.Pick(ctx)
				if !isReplica {
					t.Fatalf("picked the primary with %d replicas to serve", len(tt.serve))
				}
				seen[c] = true
			}
			fb := s.Fallback(ctx)
			if len(seen) != len(tt.serve) || s.Healthy() != len(tt.serve) || len(fb) != len(tt.serve) {
				t.Fatalf("served by %d, healthy %d, fallback %d; want %d", len(seen), s.Healthy(), len(fb), len(tt.serve))
			}
			for _, c := range tt.serve {
				if !seen[c] {
					t.Fatalf("%s did not serve", c.Options().Addr)
				}
			}
		})
	}
	if st := s.Status(); st[0].Healthy || st[0].Reason != "replica of primary:1, not of the primary old:1" || st[2].Reason != "not a replica" {
		t.Fatalf("status %+v", st)
	}
}
