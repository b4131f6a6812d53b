package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
)

// cachedNode is one web node of a fleet: its own Cluster and near cache
// over a shared topology, and a Manager storing through the cache.
func cachedNode(t *testing.T, top *redistest.Topology) (*session.Manager, *cluster.NearCache) {
	t.Helper()
	_, nc := clustertest.NewNode(t, top, cluster.NearCacheOptions{})
	m := session.New(nc)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	return m, nc
}

// Sessions written on one node are read on the other through its cache:
// changes and logout reach it.
func TestNearCacheAcrossNodes(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	ma, _ := cachedNode(t, top)
	mb, ncb := cachedNode(t, top)
	srvA, srvB := httptest.NewServer(app(ma)), httptest.NewServer(app(mb))
	defer srvA.Close()
	defer srvB.Close()
	b := newBrowser(t, srvA)

	b.must("/put?k=user&v=ada", "")
	// The same browser on node B (cookies are per host: carry it over).
	bb := newBrowser(t, srvB)
	bb.c.Jar.SetCookies(mustURL(srvB.URL), cookiesOf(b, srvA))
	bb.must("/get?k=user", "ada")
	hits := ncb.Stats().Hits
	bb.must("/get?k=user", "ada")
	if ncb.Stats().Hits == hits {
		t.Fatal("node B's second read was not served from its cache")
	}

	b.must("/put?k=user&v=bob", "")
	eventually(t, 5*time.Second, "B sees the change made on A", func() error {
		if _, body := bb.get("/get?k=user"); body != "bob" {
			return fmt.Errorf("B reads %q", body)
		}
		return nil
	})
	b.must("/destroy", "")
	eventually(t, 5*time.Second, "B sees the logout made on A", func() error {
		if _, body := bb.get("/get?k=user"); body != "" {
			return fmt.Errorf("B reads %q", body)
		}
		return nil
	})
}

// The idle timeout holds with the cache: activity served from the cache
// still pushes the expiry forward in Redis, and an idle session ends.
func TestNearCacheIdleTimeout(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	m, nc := cachedNode(t, top)
	m.IdleTimeout, m.Lifetime = busyIdleTimeout, time.Minute
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	b := newBrowser(t, srv)

	b.must("/put?k=user&v=ada", "")
	b.keepBusy(2500*time.Millisecond, 20*time.Millisecond)
	if nc.Stats().Hits == 0 {
		t.Fatal("no read was served from the cache")
	}
	waitReaped(t, top, 4*time.Second, "idle session expires in Redis")
	b.must("/get?k=user", "")
}

// A cached read past the idle timeout is an expired session, even if the
// entry is still in the cache (Redis has not told us yet).
func TestNearCacheNeverExtendsIdle(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	m, _ := cachedNode(t, top)
	m.IdleTimeout, m.Lifetime = 300*time.Millisecond, time.Minute
	ctx, _ := m.Load(context.Background(), "")
	m.Put(ctx, "user", "ada")
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, _ = m.Load(context.Background(), token)
	if m.GetString(ctx, "user") != "ada" {
		t.Fatal("session not loaded")
	}
	// Reading without committing never touches: the session must end 300ms
	// after it was saved, cached or not.
	saved := time.Now()
	eventually(t, 3*time.Second, "session ends at its idle timeout", func() error {
		ctx, err := m.Load(context.Background(), token)
		if err != nil {
			return err
		}
		if m.GetString(ctx, "user") != "" {
			return errors.New("still there")
		}
		return nil
	})
	if took := time.Since(saved); took < 250*time.Millisecond {
		t.Fatalf("session ended after %v, before its idle timeout", took)
	}
}

// Values come out of the cache shared, but a request's changes, Put or
// made in place to a map or slice it got, never reach another request.
func TestNearCacheRequestsDoNotShareChanges(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	m, nc := cachedNode(t, top)
	ctx, _ := m.Load(context.Background(), "")
	m.Put(ctx, "user", "ada")
	m.Put(ctx, "roles", []string{"reader"})
	m.Put(ctx, "prefs", map[string]string{"theme": "dark"})
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Until one round is served from the cache (the first fills it; the
	// invalidation of the create, arriving late, may empty it once).
	eventually(t, 5*time.Second, "a load served from the cache", func() error {
		hits := nc.Stats().Hits
		ctx, err := m.Load(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		if m.GetString(ctx, "user") != "ada" || m.Get(ctx, "roles").([]string)[0] != "reader" || m.Get(ctx, "prefs").(map[string]string)["theme"] != "dark" {
			t.Fatal("a request saw another request's unsaved changes")
		}
		m.Put(ctx, "user", "mallory")
		m.Get(ctx, "roles").([]string)[0] = "admin"
		m.Get(ctx, "prefs").(map[string]string)["theme"] = "light"
		m.Remove(ctx, "user")
		// not committed
		if nc.Stats().Hits == hits {
			return errors.New("a miss")
		}
		return nil
	})
	ctx, _ = m.Load(context.Background(), token)
	if m.GetString(ctx, "user") != "ada" || m.Get(ctx, "roles").([]string)[0] != "reader" || m.Get(ctx, "prefs").(map[string]string)["theme"] != "dark" {
		t.Fatal("a request saw another request's unsaved changes")
	}
}

// countingCodec counts its decodes.
type countingCodec struct {
	session.GobCodec
	n *int
}

func (c countingCodec) Decode(b []byte) (any, error) { *c.n++; return c.GobCodec.Decode(b) }

// Two Managers sharing one near cache each get their own decode: a cache
// entry of one Manager (its codec) is never handed to the other.
func TestNearCacheOwners(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	m, _ := cachedNode(t, top)
	ctx, _ := m.Load(context.Background(), "")
	m.Put(ctx, "n", 1)
	token, _, err := m.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if ctx, err = m.Load(context.Background(), token); err != nil || m.GetInt(ctx, "n") != 1 {
			t.Fatalf("m: n = %v, %v", m.Get(ctx, "n"), err)
		}
	}
	decodes := 0
	m2 := session.New(m.Store)
	m2.Codec = countingCodec{n: &decodes}
	if ctx, err = m2.Load(context.Background(), token); err != nil || m2.GetInt(ctx, "n") != 1 {
		t.Fatalf("m2: n = %v, %v", m2.Get(ctx, "n"), err)
	}
	if decodes == 0 {
		t.Fatal("m2 was handed m's decoded session")
	}
}

// Requests read the cached session in place and copy it on their first
// change: one request's Put, Remove or Destroy reaches neither another
// request's session nor the cache.
func TestNearCacheRequestsShareNothing(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1})
	m, nc := cachedNode(t, top)
	ctx := context.Background()
	c0, err := m.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	m.Put(c0, "a", "1")
	m.Put(c0, "b", 2)
	token, _, err := m.Commit(c0)
	if err != nil {
		t.Fatal(err)
	}
	load := func() context.Context {
		t.Helper()
		c, err := m.Load(ctx, token)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	load() // fills the cache
	hits := nc.Stats().Hits
	c1, c2 := load(), load()
	if nc.Stats().Hits < hits+2 {
		t.Fatalf("the loads were not served from the cache (hits %d → %d)", hits, nc.Stats().Hits)
	}

	m.Put(c1, "a", "changed")
	m.Remove(c1, "b")
	if got, want := fmt.Sprint(m.Keys(c1)), "[a]"; got != want {
		t.Errorf("changed request's keys %s, want %s", got, want)
	}
	if m.GetString(c2, "a") != "1" || m.GetInt(c2, "b") != 2 || !m.Exists(c2, "b") || fmt.Sprint(m.Keys(c2)) != "[a b]" {
		t.Errorf("another request sees a=%q b=%d keys %v: the change leaked", m.GetString(c2, "a"), m.GetInt(c2, "b"), m.Keys(c2))
	}
	c3 := load()
	if m.GetString(c3, "a") != "1" || m.GetInt(c3, "b") != 2 || m.Status(c3) != session.Unmodified {
		t.Errorf("the cache was changed by requests that did not commit: a=%q b=%d", m.GetString(c3, "a"), m.GetInt(c3, "b"))
	}
	if v := m.Pop(c3, "a"); v != "1" || m.Exists(c3, "a") {
		t.Errorf("Pop of a shared value: %v, still there %v", v, m.Exists(c3, "a"))
	}
	if err := m.Destroy(c2); err != nil {
		t.Fatal(err)
	}
	m.Put(c2, "c", "3") // a destroyed shared session takes new values
	if got := fmt.Sprint(m.Keys(c2)); got != "[c]" {
		t.Errorf("after Destroy and Put: keys %s, want [c]", got)
	}
}
