package scsstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
	"github.com/shardsession/shardsession/session/scsstore"
	"github.com/shardsession/shardsession/shard"
)

// The interfaces scs looks for by type assertion.
var (
	_ scs.Store            = (*scsstore.Store)(nil)
	_ scs.CtxStore         = (*scsstore.Store)(nil)
	_ scs.IterableStore    = (*scsstore.Store)(nil)
	_ scs.IterableCtxStore = (*scsstore.Store)(nil)
)

// app is the usual scs program: a SessionManager with its Store set, and
// handlers wrapped in LoadAndSave.
func app(sm *scs.SessionManager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, sm.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.RenewToken(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		sm.Put(r.Context(), "user", r.FormValue("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sm.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})
	return sm.LoadAndSave(mux)
}

func newManager(c *cluster.Cluster) *scs.SessionManager {
	sm := scs.New()
	sm.Store = scsstore.New(c)
	return sm
}

func TestLoginLogoutThroughSCS(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	srv := httptest.NewServer(app(newManager(c)))
	defer srv.Close()
	webtest.LoginLogout(t, srv.URL)
}

// Two web nodes with their own SessionManager and Cluster see one session.
func TestSessionSharedAcrossNodes(t *testing.T) {
	c1, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	c2, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top)})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	n1 := httptest.NewServer(app(newManager(c1)))
	defer n1.Close()
	n2 := httptest.NewServer(app(newManager(c2)))
	defer n2.Close()

	b := webtest.New(t)
	b.Post(n1.URL+"/login", map[string][]string{"user": {"grace"}})
	// The jar keys cookies by host, and both nodes are 127.0.0.1.
	if _, body := b.Get(n2.URL + "/whoami"); body != "grace\n" {
		t.Fatalf("node 2 says %q, want grace", body)
	}
}

func TestSpreadIterateAndExpire(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	sm := newManager(c)
	ctx := context.Background()
	perShard := map[string]int{}
	for i := range 30 {
		ctx, err := sm.Load(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		sm.Put(ctx, "n", i)
		token, _, err := sm.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		perShard[c.Locate("scs:"+token)]++
	}
	if len(perShard) != 3 {
		t.Fatalf("30 sessions landed on %d shards: %v", len(perShard), perShard)
	}

	sum, seen := 0, 0
	err := sm.Iterate(ctx, func(ctx context.Context) error {
		sum += sm.GetInt(ctx, "n")
		seen++
		return nil
	})
	if err != nil || seen != 30 || sum != 29*30/2 {
		t.Fatalf("Iterate saw %d sessions summing to %d, err %v; want 30, 435", seen, sum, err)
	}

	// An expiry in the past is scs's way of saying "gone": Redis reaps it.
	st := scsstore.New(c)
	if err := st.Commit("short", []byte("x"), time.Now().Add(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, found, err := st.Find("short")
		if err != nil {
			t.Fatal(err)
		}
		if !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session still found after its expiry")
		}
		time.Sleep(20 * time.Millisecond) // polling for Redis's expiry
	}
}

func TestCommitOverwritesAndDeleteIsIdempotent(t *testing.T) {
	c, _ := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	st := scsstore.New(c)
	exp := time.Now().Add(time.Minute)
	for _, v := range []string{"one", "two"} {
		if err := st.Commit("tok", []byte(v), exp); err != nil {
			t.Fatal(err)
		}
	}
	if b, found, err := st.Find("tok"); err != nil || !found || string(b) != "two" {
		t.Fatalf("Find = %q, %v, %v; want two", b, found, err)
	}
	for range 2 {
		if err := st.Delete("tok"); err != nil {
			t.Fatal(err)
		}
	}
	if _, found, err := st.Find("tok"); err != nil || found {
		t.Fatalf("deleted token: found %v, err %v", found, err)
	}
	if all, err := st.All(); err != nil || len(all) != 0 || all == nil {
		t.Fatalf("All of an empty store = %v, %v; want an empty, non-nil map", all, err)
	}
}

// A shard that is down fails its own sessions with an error scs reports as
// a 500; it never hands out an empty session in place of the stored one.
func TestShardDown(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 3})
	st := scsstore.New(c)
	exp := time.Now().Add(time.Minute)
	if err := st.Commit("tok", []byte("data"), exp); err != nil {
		t.Fatal(err)
	}
	owner := c.Locate("scs:tok")
	for _, s := range top.Shards {
		if s.Name == owner {
			if err := s.Primary.Kill(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, found, err := st.Find("tok"); !errors.Is(err, shard.ErrUnavailable) || found {
		t.Fatalf("Find on a dead shard = found %v, err %v; want ErrUnavailable", found, err)
	}
	if _, err := st.All(); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("All with a dead shard = %v, want ErrUnavailable", err)
	}
}
