package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// create saves a new session id that expires at exp.
func create(t testing.TB, c *Cluster, id string, exp time.Time) {
	t.Helper()
	if _, err := c.Save(context.Background(), id, store.Write{Mode: store.Create, Set: map[string][]byte{"v:id": []byte(id)}, ExpireAt: exp}); err != nil {
		t.Fatal(err)
	}
}

func TestUserIndexAcrossSlots(t *testing.T) {
	c := newCluster(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var all []string
	for _, ids := range idsOnEveryMaster(t, c, 2) {
		for _, id := range ids {
			create(t, c, id, exp)
			if err := c.IndexUser(ctx, "ada", id, exp); err != nil {
				t.Fatal(err)
			}
			all = append(all, id)
		}
	}
	// An indexed session that is gone is dropped from the index; one whose
	// absolute expiry has passed too.
	if err := c.IndexUser(ctx, "ada", "gone", exp); err != nil {
		t.Fatal(err)
	}
	if err := c.IndexUser(ctx, "ada", "past", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := c.UserSessions(ctx, "ada")
	slices.Sort(got)
	slices.Sort(all)
	if err != nil || !slices.Equal(got, all) {
		t.Fatalf("UserSessions = %v, %v; want %v", got, err, all)
	}
	if n := c.Client().ZCard(ctx, c.userKey("ada")).Val(); n != int64(len(all)) {
		t.Fatalf("index holds %d members after pruning, want %d", n, len(all))
	}
	if err := c.Delete(ctx, all[0]); err != nil {
		t.Fatal(err)
	}
	if err := c.UnindexUser(ctx, "ada", all[1]); err != nil {
		t.Fatal(err)
	}
	got, err = c.UserSessions(ctx, "ada")
	slices.Sort(got)
	if err != nil || !slices.Equal(got, all[2:]) {
		t.Fatalf("UserSessions after delete and unindex = %v, %v; want %v", got, err, all[2:])
	}
}

func TestLocks(t *testing.T) {
	c := newCluster(t, Options{})
	ctx := context.Background()
	if ok, err := c.TryLock(ctx, "s", "a", time.Minute); ok || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("TryLock of a session that does not exist = %v, %v; want store.ErrNotFound", ok, err)
	}
	if n := c.Client().Exists(ctx, c.lockKey("s")).Val(); n != 0 {
		t.Fatal("a lock was written for a session that does not exist")
	}
	if _, err := c.Save(ctx, "s", store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("1")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		do    func() (bool, error)
		want  bool
		after string
	}{
		{"a takes", func() (bool, error) { return c.TryLock(ctx, "s", "a", time.Minute) }, true, "a"},
		{"b is refused", func() (bool, error) { return c.TryLock(ctx, "s", "b", time.Minute) }, false, "a"},
		{"b cannot free a's lock", func() (bool, error) { return true, c.Unlock(ctx, "s", "b") }, true, "a"},
		{"a frees", func() (bool, error) { return true, c.Unlock(ctx, "s", "a") }, true, ""},
		{"b takes", func() (bool, error) { return c.TryLock(ctx, "s", "b", 50*time.Millisecond) }, true, "b"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got, err := s.do()
			if err != nil || got != s.want {
				t.Fatalf("= %v, %v; want %v", got, err, s.want)
			}
			if holder := c.Client().Get(ctx, c.lockKey("s")).Val(); holder != s.after {
				t.Fatalf("lock held by %q, want %q", holder, s.after)
			}
		})
	}
	// b's lock frees itself after its ttl.
	redistest.Eventually(t, 5*time.Second, func(ctx context.Context) error {
		if ok, err := c.TryLock(ctx, "s", "c", time.Minute); err != nil || !ok {
			return fmt.Errorf("TryLock after ttl = %v, %v", ok, err)
		}
		return nil
	})
}

func TestIterateAcrossMasters(t *testing.T) {
	c := newCluster(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	want := map[string]bool{}
	for _, ids := range idsOnEveryMaster(t, c, 5) {
		for _, id := range ids {
			create(t, c, id, exp)
			want[id] = true
		}
	}
	// Records of the other key spaces, which Iterate skips.
	if err := c.IndexUser(ctx, "ada", "id0000", exp); err != nil {
		t.Fatal(err)
	}
	if _, err := c.TryLock(ctx, "id0000", "me", time.Minute); err != nil {
		t.Fatal(err)
	}
	create(t, c, "scs:tok1", exp)
	if err := c.Client().Set(ctx, c.Key("scs:str"), "not a hash", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}

	seen := map[string]bool{}
	err := c.Iterate(ctx, func(id string, fields map[string]string) error {
		if fields["v:id"] != id {
			return fmt.Errorf("%s: fields %v", id, fields)
		}
		seen[id] = true
		return nil
	})
	if err != nil || len(seen) != len(want) {
		t.Fatalf("Iterate saw %d of %d sessions: %v, err %v", len(seen), len(want), seen, err)
	}
	for id := range want {
		if !seen[id] {
			t.Fatalf("Iterate missed %s", id)
		}
	}

	var prefixed []string
	err = c.IteratePrefix(ctx, "scs:", func(id string, _ map[string]string) error {
		prefixed = append(prefixed, id)
		return nil
	})
	if err != nil || !slices.Equal(prefixed, []string{"scs:tok1"}) {
		t.Fatalf("IteratePrefix = %v, %v; want [scs:tok1]", prefixed, err)
	}

	stop := errors.New("stop")
	n := 0
	err = c.Iterate(ctx, func(string, map[string]string) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("Iterate after fn's error: %d calls, %v", n, err)
	}
}

func TestEventsFromEveryMaster(t *testing.T) {
	c := newCluster(t, Options{})
	checkEventsFromEveryMaster(t, c, c.Watch, nil)
}

// checkEventsFromEveryMaster runs watch, a Watch over c, and checks that
// published events reach it once each, whichever master owns the session,
// and that expired keys are reported by the master they expired on; then,
// before watch is stopped, it runs during, if not nil.
func checkEventsFromEveryMaster(t *testing.T, c *Cluster, watch func(context.Context, func(store.Event), func(error)) error, during func(ctx context.Context)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	got := map[string][]store.Event{}
	watched := make(chan error, 1)
	go func() {
		watched <- watch(ctx, func(e store.Event) {
			mu.Lock()
			got[e.ID] = append(got[e.ID], e)
			mu.Unlock()
		}, nil)
	}()
	byMaster := idsOnEveryMaster(t, c, 3)
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		for _, ids := range byMaster {
			_ = c.Publish(ctx, store.Event{Kind: store.Created, ID: ids[0]})
		}
		mu.Lock()
		defer mu.Unlock()
		for _, ids := range byMaster {
			if len(got[ids[0]]) == 0 {
				return fmt.Errorf("no event for %s yet", ids[0])
			}
		}
		return nil
	})
	// Subscribed now: one publish gives exactly one event per ID.
	for _, ids := range byMaster {
		if err := c.Publish(ctx, store.Event{Kind: store.Renewed, ID: ids[2], OldID: "old"}); err != nil {
			t.Fatal(err)
		}
		create(t, c, ids[1], time.Now().Add(100*time.Millisecond))
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		for m, ids := range byMaster {
			if e := got[ids[2]]; len(e) != 1 || e[0].Kind != store.Renewed || e[0].OldID != "old" || e[0].Shard != m {
				return fmt.Errorf("events for %s: %+v", ids[2], e)
			}
			if len(got[ids[1]]) != 1 || got[ids[1]][0].Kind != store.Expired || got[ids[1]][0].Shard != m {
				return fmt.Errorf("expiry of %s on %s: %+v", ids[1], m, got[ids[1]])
			}
		}
		return nil
	})
	if during != nil {
		during(ctx)
	}
	cancel()
	if err := <-watched; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch = %v, want context.Canceled", err)
	}
}
