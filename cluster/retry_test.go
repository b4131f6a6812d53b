package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// go-redis resends a command whose reply timed out. A resent write (the same
// arguments, so the same write ID) must report what the first one did, not
// ErrExists for a create nor ErrConflict for a compare-and-set, and must not
// bump the version again.
func TestSaveResentIsIdempotent(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	c, err := New(Options{Shards: []shard.Options{{Name: "s0", Addr: srv.Addr()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	sh := c.ShardFor("id")
	exp := time.Now().Add(time.Minute).UnixMilli()
	steps := []struct {
		name string
		args []any
		want int64
	}{
		{"create", []any{"c", exp, 0, "w1", 0, 0, "v:a", "1"}, 1},
		{"compare-and-set update", []any{"u", exp, 1, "w2", 0, 0, "v:a", "2"}, 2},
		{"touch", []any{"t", exp, 0, "w3", 0, 0, "_s", "3"}, 2},
	}
	for _, st := range steps {
		for attempt := 1; attempt <= 2; attempt++ {
			v, err := c.saveOn(ctx, sh, "id", st.args)
			if err != nil || v != st.want {
				t.Fatalf("%s, attempt %d: version %d, err %v; want %d, nil", st.name, attempt, v, err, st.want)
			}
		}
	}
	if got := sh.Primary().HGet(ctx, c.Key("id"), "v:a").Val(); got != "2" {
		t.Fatalf("value %q after the resent writes, want 2", got)
	}
}
