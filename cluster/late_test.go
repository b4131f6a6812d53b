package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// A save that reaches the primary after Durability.LateWrite, such as one
// queued on the socket of a paused primary, is refused when the primary
// resumes instead of being applied long after its sender gave up; one with
// a NotAfter already past is refused at once.
func TestLateWriteRefused(t *testing.T) {
	ctx := context.Background()
	tp := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(tp), Durability: cluster.Durability{LateWrite: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exp := time.Now().Add(time.Minute)
	v, err := c.Save(ctx, "late", store.Write{Mode: store.Create, Set: map[string][]byte{"n": []byte("1")}, ExpireAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		pause bool
		w     store.Write
	}{
		{"deadline already past", false, store.Write{Mode: store.Update, Set: map[string][]byte{"n": []byte("2")}, ExpireAt: exp, NotAfter: time.Now().Add(-time.Second)}},
		{"queued behind a paused primary", true, store.Write{Mode: store.Update, Set: map[string][]byte{"n": []byte("3")}, ExpireAt: exp}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pause {
				if err := tp.Shards[0].Primary.Pause(); err != nil {
					t.Fatal(err)
				}
				done := make(chan error, 1)
				go func() { _, err := c.Save(ctx, "late", tt.w); done <- err }()
				// The client gives up (ReadTimeout 1 s, one retry) while the
				// writes wait in the paused primary's socket.
				if err := <-done; !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("save to a paused primary = %v, want ErrUnavailable", err)
				}
				if err := tp.Shards[0].Primary.Resume(); err != nil {
					t.Fatal(err)
				}
			} else if _, err := c.Save(ctx, "late", tt.w); !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("late save = %v, want ErrUnavailable", err)
			}
			// The resumed primary runs what waited in its sockets in the
			// moments after it resumes: keep looking for a while.
			for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
				fields, _, err := c.Load(ctx, "late", store.LoadOptions{Primary: true})
				if err != nil || fields["n"] != "1" || store.Version(fields) != v {
					t.Fatalf("after a refused late write: %v, %v; want n=1 at version %d", fields, err, v)
				}
			}
		})
	}
}
