package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

func TestSaveIfVersion(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 1})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	set := map[string][]byte{"a": []byte("1")}
	v, err := c.Save(ctx, "id", store.Write{Mode: store.Create, Set: set, ExpireAt: exp, IfVersion: 7})
	if err != nil || v != 1 {
		t.Fatalf("create with IfVersion = %d, %v; Create must ignore it", v, err)
	}
	tests := []struct {
		name    string
		w       store.Write
		want    error
		version int64
	}{
		{"update at the right version", store.Write{Mode: store.Update, Set: set, IfVersion: 1}, nil, 2},
		{"update at a stale version", store.Write{Mode: store.Update, Set: map[string][]byte{"a": []byte("lost")}, IfVersion: 1}, store.ErrConflict, 2},
		{"touch at a stale version", store.Write{Mode: store.Touch, IfVersion: 1}, store.ErrConflict, 2},
		{"update at any version", store.Write{Mode: store.Update, Set: set}, nil, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.w.ExpireAt = exp
			_, err := c.Save(ctx, "id", tt.w)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			fields, _, _ := c.Load(ctx, "id", store.LoadOptions{})
			if store.Version(fields) != tt.version || fields["a"] != "1" {
				t.Fatalf("after: %v, want version %d and a=1", fields, tt.version)
			}
		})
	}
	if _, err := c.Save(ctx, "gone", store.Write{Mode: store.Update, ExpireAt: exp, IfVersion: 1}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CAS update of a missing record = %v, want ErrNotFound", err)
	}
}

func TestLock(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	// No lock is written for a session that does not exist.
	if ok, err := c.TryLock(ctx, "id", "me", time.Minute); ok || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TryLock of a missing session = %v, %v; want ErrNotFound", ok, err)
	}
	if n, err := c.ShardFor("id").Primary().Exists(ctx, c.Key("lock:id")).Result(); err != nil || n != 0 {
		t.Fatalf("lock key of a missing session: exists %d, %v", n, err)
	}
	if _, err := c.Save(ctx, "id", store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ok, err := c.TryLock(ctx, "id", "me", time.Minute)
	if err != nil || !ok {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	if ok, _ := c.TryLock(ctx, "id", "you", time.Minute); ok {
		t.Fatal("a held lock was taken twice")
	}
	if err := c.Unlock(ctx, "id", "you"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.TryLock(ctx, "id", "you", time.Minute); ok {
		t.Fatal("Unlock by a non-holder freed the lock")
	}
	if err := c.Unlock(ctx, "id", "me"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.TryLock(ctx, "id", "you", 100*time.Millisecond); !ok {
		t.Fatal("lock not free after its holder's Unlock")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		if ok, _ := c.TryLock(ctx, "id", "me", time.Minute); ok {
			break // expired by its TTL
		}
		if time.Now().After(deadline) {
			t.Fatal("lock never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIterateAndUserSweep(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	const n = 300
	for i := range n {
		id := "s" + string(rune('A'+i%26)) + time.Duration(i).String()
		if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"i": []byte("x")}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
		// Some live and some dead sessions in many users' indexes.
		user := "u" + time.Duration(i%40).String()
		if err := c.IndexUser(ctx, user, id, exp); err != nil {
			t.Fatal(err)
		}
		if err := c.IndexUser(ctx, user, "dead"+id, exp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.TryLock(ctx, "sA0s", "me", time.Minute); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{}
	err := c.Iterate(ctx, func(id string, _ map[string]string) error {
		all[id] = true
		return nil
	})
	if err != nil || len(all) != n {
		t.Fatalf("Iterate = %d sessions, %v; want %d (indexes and locks skipped)", len(all), err, n)
	}
	sw := c.NewUserSweeper()
	for range 100 {
		if _, err := sw.Sweep(ctx, 5); err != nil {
			t.Fatal(err)
		}
	}
	var members int64
	for _, s := range top.Shards {
		cl := s.Primary.Client()
		keys, _ := cl.Keys(ctx, "shardsession:user:*").Result()
		for _, k := range keys {
			members += cl.ZCard(ctx, k).Val()
		}
		cl.Close()
	}
	if members != n {
		t.Fatalf("indexes hold %d members after sweeps, want the %d live sessions", members, n)
	}
	// A user's list is exact.
	ids, err := c.UserSessions(ctx, "u0s")
	if err != nil || len(ids) != n/40+1 && len(ids) != n/40 {
		t.Fatalf("UserSessions = %v, %v", ids, err)
	}
}
