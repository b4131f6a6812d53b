package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// The races of the copy mover (copymove.go) that MIGRATE's atomicity used
// to rule out, played step by step: a mover ("A") is driven by hand through
// its scripts, stalling where the race needs it, while the cluster (in
// PhaseDualRead, the phase whose writes go to the previous owner) serves
// requests. Whatever the interleaving, a deleted session stays deleted, an
// update is not lost, and a read never goes back in time.
func TestCopyMoverRaces(t *testing.T) {
	noMigrate := []string{"--rename-command", "MIGRATE", ""}
	s0 := redistest.NewServer(t, redistest.Options{Args: noMigrate})
	s1 := redistest.NewServer(t, redistest.Options{Args: noMigrate})
	one := []shard.Options{{Name: "s0", Addr: s0.Addr()}}
	two := append(one[:1:1], shard.Options{Name: "s1", Addr: s1.Addr()})
	c, err := New(Options{Shards: one})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	update := func(v string) store.Write {
		return store.Write{Mode: store.Update, Set: map[string][]byte{"v": []byte(v)}, ExpireAt: exp}
	}
	var ids []string
	for i := 0; len(ids) < 10; i++ {
		id := fmt.Sprint("race-", i)
		if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"v": []byte("1")}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := c.Apply(ctx, Topology{Epoch: 1, Phase: PhaseDualRead, Shards: two, Prev: one, Mover: MoverCopy}); err != nil {
		t.Fatal(err)
	}
	s := c.snap.Load()
	var moving []string // the sessions whose owner changes
	for _, id := range ids {
		if _, from := s.pair(id); from != nil {
			moving = append(moving, id)
		}
	}
	if len(moving) < 3 {
		t.Fatalf("only %d of %d sessions change owner", len(moving), len(ids))
	}

	// A, the mover driven by hand, for one session.
	type mover struct {
		id, key  string
		from, to *shard.Shard
		res      []string // what A's mark returned: type, expiry, contents
	}
	mark := func(t *testing.T, id string, lease time.Duration) *mover {
		to, from := s.pair(id)
		a := &mover{id: id, key: c.Key(id), from: from, to: to}
		res, err := moveMarkScript.Run(ctx, from.Primary(), []string{a.key, c.markKey(a.key)}, "a", lease.Milliseconds(), markTTL.Milliseconds()).StringSlice()
		if err != nil || len(res) < 3 || res[0] != "hash" {
			t.Fatalf("mark: %q, %v", res, err)
		}
		a.res = res
		return a
	}
	copyTo := func(t *testing.T, a *mover) int {
		args := make([]any, len(a.res))
		for i, r := range a.res {
			args[i] = r
		}
		n, err := moveCopyScript.Run(ctx, a.to.Primary(), []string{a.key, c.tombKey(a.key)}, args...).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	finish := func(t *testing.T, a *mover) int {
		n, err := moveFinishScript.Run(ctx, a.from.Primary(), []string{a.key, c.markKey(a.key)}, "a", "hash", hashVersion(a.res[2:])).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	exists := func(t *testing.T, sh *shard.Shard, key string) bool {
		n, err := sh.Primary().Exists(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	gone := func(t *testing.T, a *mover) {
		t.Helper()
		if _, found, err := c.Load(ctx, a.id, store.LoadOptions{}); err != nil || found {
			t.Fatalf("deleted session: found %v, %v", found, err)
		}
		if exists(t, a.from, a.key) || exists(t, a.to, a.key) {
			t.Fatalf("deleted session is back: on %s %v, on %s %v", a.from.Name(), exists(t, a.from, a.key), a.to.Name(), exists(t, a.to, a.key))
		}
	}

	tests := []struct {
		name string
		run  func(t *testing.T, id string)
	}{
		{"a delete racing a live move", func(t *testing.T, id string) {
			a := mark(t, id, moveLease)
			if n := copyTo(t, a); n != 1 {
				t.Fatalf("copy = %d, want 1", n)
			}
			deleted := make(chan error, 1)
			go func() { deleted <- c.Delete(ctx, id) }()
			if n := finish(t, a); n != 1 {
				t.Fatalf("finish = %d, want 1", n)
			}
			if err := <-deleted; err != nil {
				t.Fatal(err)
			}
			gone(t, a)
			// A copy sent again (a resent command) finds the tombstone.
			if n := copyTo(t, a); n != -1 {
				t.Fatalf("late copy = %d, want -1 (tombstone)", n)
			}
			gone(t, a)
		}},
		{"a delete after a mover stalled past its lease", func(t *testing.T, id string) {
			a := mark(t, id, 50*time.Millisecond)
			// The delete waits for A's lease, takes the move over, and
			// deletes the session on both owners.
			if err := c.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			gone(t, a)
			// A wakes up: its copy must not bring the session back.
			if n := copyTo(t, a); n != -1 {
				t.Fatalf("stalled copy = %d, want -1 (tombstone)", n)
			}
			if n := finish(t, a); n != 0 {
				t.Fatalf("stalled finish = %d, want 0 (mark taken over)", n)
			}
			gone(t, a)
		}},
		{"writes on both owners during a stalled move", func(t *testing.T, id string) {
			a := mark(t, id, 200*time.Millisecond)
			if n := copyTo(t, a); n != 1 {
				t.Fatalf("copy = %d, want 1", n)
			}
			// A PhaseMigrate node updates the copy on the new owner.
			args, err := scripts.SaveArgs(update("2"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.saveOn(ctx, a.to, id, args); err != nil {
				t.Fatal(err)
			}
			// This PhaseDualRead node reads the marked record on the old
			// owner, and the newer copy wins.
			if fields, _, err := c.Load(ctx, id, store.LoadOptions{}); err != nil || fields["v"] != "2" {
				t.Fatalf("read during the move: %v, %v; want v=2", fields, err)
			}
			// Its update must not land on the old owner's copy, which the
			// move then deletes: it takes the stalled move over and
			// writes to the new owner.
			if _, err := c.Save(ctx, id, update("3")); err != nil {
				t.Fatal(err)
			}
			if fields, _, err := c.Load(ctx, id, store.LoadOptions{}); err != nil || fields["v"] != "3" || fields[store.VersionField] != "3" {
				t.Fatalf("after the update: %v, %v; want v=3 at version 3", fields, err)
			}
			if exists(t, a.from, a.key) {
				t.Fatal("the old owner still holds the session")
			}
			if n := finish(t, a); n != 0 {
				t.Fatalf("stalled finish = %d, want 0 (mark taken over)", n)
			}
			ttl, err := a.to.Primary().PTTL(ctx, a.key).Result()
			if err != nil || ttl > time.Until(exp)+time.Second || ttl < time.Until(exp)-time.Second {
				t.Fatalf("TTL %v, want %v ± 1s (%v)", ttl, time.Until(exp), err)
			}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, moving[i]) })
	}
	// No mark is left behind.
	for _, sh := range []*shard.Shard{s.shards[0], s.shards[1]} {
		keys, err := sh.Primary().Keys(ctx, c.markKey(c.Key("*"))).Result()
		if err != nil || len(keys) != 0 {
			t.Fatalf("%s: marks %v, %v", sh.Name(), keys, err)
		}
	}
}
