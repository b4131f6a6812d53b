package session_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// loginOnEveryShard logs user in with m until each shard holds at least
// perShard of its sessions; it returns the contexts of those sessions.
func loginOnEveryShard(t *testing.T, m *session.Manager, c *cluster.Cluster, user string, perShard int) []context.Context {
	t.Helper()
	count := map[string]int{}
	var ctxs []context.Context
	for i := 0; len(ctxs) < perShard*len(c.Shards()); i++ {
		if i > 200 {
			t.Fatalf("sessions never reached every shard: %v", count)
		}
		ctx := load(t, m, "")
		m.Put(ctx, "n", i)
		m.SetUser(ctx, user)
		if _, _, err := m.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if name, _ := m.Shard(ctx); count[name] < perShard {
			count[name]++
			ctxs = append(ctxs, ctx)
		} else if err := m.Destroy(ctx); err != nil { // keep the spread even
			t.Fatal(err)
		}
	}
	return ctxs
}

func ids(m *session.Manager, ctxs []context.Context) []string {
	var s []string
	for _, ctx := range ctxs {
		s = append(s, m.ID(ctx))
	}
	sort.Strings(s)
	return s
}

func listIDs(t *testing.T, m *session.Manager, ctx context.Context, user string) []string {
	t.Helper()
	list, err := m.ListByUser(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, info := range list {
		s = append(s, info.ID)
	}
	sort.Strings(s)
	return s
}

// Acceptance: a user with sessions on all 3 shards; ListByUser is exact
// after expiries; RevokeByUser ends every one (or all but the current).
func TestUserIndexAcrossShards(t *testing.T) {
	m, c, top := newManager(t)
	short := session.New(c) // same cluster, sessions that idle out fast
	short.IdleTimeout = 300 * time.Millisecond
	ctx := context.Background()

	// The user logs in twice per shard on long sessions, once per shard on
	// short ones; another user has a session too.
	long := loginOnEveryShard(t, m, c, "ada", 1)
	long = append(long, loginOnEveryShard(t, m, c, "ada", 1)...)
	brief := loginOnEveryShard(t, short, c, "ada", 1)
	other := loginOnEveryShard(t, m, c, "bob", 1)

	all := append(ids(m, long), ids(short, brief)...)
	sort.Strings(all)
	if got := listIDs(t, m, ctx, "ada"); !slices.Equal(got, all) {
		t.Fatalf("ListByUser = %v, want %v", got, all)
	}

	// The short sessions expire: the list is exact right after, without
	// waiting for Redis to reap them or for a sweep.
	eventually(t, 3*time.Second, "short sessions gone from the list", func() error {
		got := listIDs(t, m, ctx, "ada")
		for _, id := range ids(short, brief) {
			if slices.Contains(got, id) {
				return fmt.Errorf("expired session %s still listed", id)
			}
		}
		for _, id := range ids(m, long) {
			if !slices.Contains(got, id) {
				return fmt.Errorf("live session %s not listed", id)
			}
		}
		return nil
	})

	// The index itself was pruned, not just the answer (a session that
	// expires between the index's EXISTS and its load is pruned by the
	// next call).
	eventually(t, 3*time.Second, "index pruned to the live sessions", func() error {
		live := len(listIDs(t, m, ctx, "ada"))
		var indexed int64
		for _, s := range top.Shards {
			cl := s.Primary.Client()
			n, _ := cl.ZCard(ctx, "shardsession:user:ada").Result()
			cl.Close()
			indexed += n
		}
		if indexed != int64(live) {
			return fmt.Errorf("index holds %d members for %d live sessions", indexed, live)
		}
		return nil
	})

	// Log out everywhere else, from the first long session.
	cur := long[0]
	n, err := m.RevokeByUser(cur, "ada", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, m, ctx, "ada"); !slices.Equal(got, []string{m.ID(cur)}) {
		t.Fatalf("after revoking others (%d): %v, want only the current %s", n, got, m.ID(cur))
	}
	for _, sctx := range long[1:] {
		if _, found, _ := c.Load(ctx, m.ID(sctx), store.LoadOptions{}); found {
			t.Fatalf("revoked session %s still stored", m.ID(sctx))
		}
	}
	// Then everything.
	if _, err := m.RevokeByUser(ctx, "ada", false); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, m, ctx, "ada"); len(got) != 0 {
		t.Fatalf("after revoking all: %v", got)
	}
	if _, found, _ := c.Load(ctx, m.ID(cur), store.LoadOptions{}); found {
		t.Fatal("current session survived RevokeByUser(all)")
	}
	// bob is untouched.
	if got := listIDs(t, m, ctx, "bob"); !slices.Equal(got, ids(m, other)) {
		t.Fatalf("bob lost sessions: %v", got)
	}
}

// RenewToken and Destroy keep the index in step; SetUser("") detaches.
func TestUserIndexFollowsRenewAndDestroy(t *testing.T) {
	m, _, _ := newManager(t)
	ctx := load(t, m, "")
	m.Put(ctx, "a", 1)
	m.SetUser(ctx, "ada")
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first := m.ID(ctx)
	ctx = load(t, m, token)
	if m.User(ctx) != "ada" {
		t.Fatalf("User = %q after reload", m.User(ctx))
	}
	m.RenewToken(ctx)
	if _, _, err := m.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, m, context.Background(), "ada"); !slices.Equal(got, []string{m.ID(ctx)}) || m.ID(ctx) == first {
		t.Fatalf("after renew: %v, want [%s]", got, m.ID(ctx))
	}
	m.SetUser(ctx, "bob")
	if _, _, err := m.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if a, b := listIDs(t, m, context.Background(), "ada"), listIDs(t, m, context.Background(), "bob"); len(a) != 0 || len(b) != 1 {
		t.Fatalf("after SetUser(bob): ada %v, bob %v", a, b)
	}
	if err := m.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if b := listIDs(t, m, context.Background(), "bob"); len(b) != 0 {
		t.Fatalf("after Destroy: bob %v", b)
	}
}

// A Manager over a near cache finds the cluster's capabilities behind it:
// user index, revocation, iteration.
func TestCapabilitiesThroughNearCache(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	m, _ := cachedNode(t, top)
	ctx := load(t, m, "")
	m.Put(ctx, "a", 1)
	m.SetUser(ctx, "ada")
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, m, context.Background(), "ada"); len(got) != 1 {
		t.Fatalf("ListByUser through the near cache = %v", got)
	}
	n := 0
	if err := m.Iterate(context.Background(), func(context.Context) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Iterate = %d, %v", n, err)
	}
	if k, err := m.RevokeByUser(context.Background(), "ada", false); err != nil || k != 1 {
		t.Fatalf("RevokeByUser = %d, %v", k, err)
	}
	if m.GetInt(load(t, m, token), "a") != 0 {
		t.Fatal("revoked session still served (from the near cache?)")
	}
}
