package session_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/session"
)

// webNode is one web node reading from replicas: its own Cluster (its own
// connections, as a separate process would have) under ReplicaPreferred,
// a Manager with the fleet's signing key, and an HTTP server.
type webNode struct {
	c   *cluster.Cluster
	m   *session.Manager
	srv *httptest.Server
}

var testKey = bytes.Repeat([]byte("k"), 32)

func newWebNode(t *testing.T, top *redistest.Topology, maxLag time.Duration) *webNode {
	t.Helper()
	c, err := cluster.New(cluster.Options{
		Shards:  clustertest.ShardOptions(top),
		Replica: replica.Options{Policy: replica.ReplicaPreferred, MaxLag: maxLag},
		// Logouts do not wait for replicas here: with replicas held back
		// every WAIT would run to its timeout. This test is about reads.
		Durability: cluster.Durability{DeleteReplicas: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	clustertest.WaitReplicasHealthy(t, c)
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	m.SigningKeys = [][]byte{testKey}
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		m.RenewToken(r.Context())
		m.Put(r.Context(), "user", r.FormValue("u"))
	})
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	srv := httptest.NewServer(m.LoadAndSave(mux))
	t.Cleanup(srv.Close)
	return &webNode{c: c, m: m, srv: srv}
}

// A user logs in on node A and reads on node B at once, then logs out on A
// and reads on B at once, 1,000 times: first with every replica held back
// (CLIENT PAUSE WRITE: up, linked, answering reads, applying nothing), then
// with replication running freely. B reads from replicas (ReplicaPreferred,
// MaxLag high enough that a held replica stays in rotation), yet never
// returns a session older than the user's own last write: zero stale reads.
func TestReadYourWritesAcrossNodes(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 2})
	a, b := newWebNode(t, top, time.Hour), newWebNode(t, top, time.Hour)
	onA := newBrowser(t, a.srv)
	onB := &browser{t: t, c: onA.c, base: b.srv.URL} // same browser, same cookies

	const rounds = 1000
	stale := 0
	round := func(i int) {
		user := fmt.Sprint("user-", i)
		onA.must("/login?u="+user, "")
		if got := onB.must("/user", ""); got != user {
			stale++
			t.Errorf("round %d: after login node B says %q, want %q", i, got, user)
		}
		onA.must("/logout", "")
		if got := onB.must("/user", ""); got != "" {
			stale++
			t.Errorf("round %d: after logout node B says %q, want no user", i, got)
		}
	}

	release := clustertest.HoldReplicas(t, top)
	for i := range rounds / 2 {
		round(i)
	}
	held := b.c.ReadStats()
	release()
	for i := rounds / 2; i < rounds; i++ {
		round(i)
	}
	free := b.c.ReadStats()
	if stale != 0 {
		t.Fatalf("%d stale reads in %d rounds", stale, rounds)
	}
	// The test proves something only if B did read replicas and found them
	// behind: with every replica held, each login's read must have been
	// retried on the primary.
	if held.StaleRetries < rounds/2 {
		t.Fatalf("replicas held: only %d stale replica answers retried (stats %+v)", held.StaleRetries, held)
	}
	t.Logf("replicas held: %+v (stale-retry rate %.2f)", held, held.StaleRetryRate())
	t.Logf("replicas free: %+v", free)

	// And once caught up, replicas do serve: a session read long after its
	// write comes from a replica.
	onA.must("/login?u=last", "")
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		before := b.c.ReadStats().ReplicaReads
		if got := onB.must("/user", ""); got != "last" {
			return fmt.Errorf("user %q", got)
		}
		if b.c.ReadStats().ReplicaReads == before {
			return fmt.Errorf("read served by the primary")
		}
		return nil
	})
}

// A cookie whose version or MAC was tampered with is treated like a forged
// token: a new, empty session; the stored one is untouched.
func TestForgedVersionGivesFreshSession(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1})
	a := newWebNode(t, top, 0)
	br := newBrowser(t, a.srv)
	br.must("/login?u=ada", "")
	good := br.cookie(a.srv)
	parts := strings.Split(good, ".")
	if len(parts) != 3 {
		t.Fatalf("cookie %q is not token.version-write.mac", good)
	}
	for _, forged := range []string{
		parts[0] + ".999." + parts[2],
		parts[0] + "." + parts[1],
		parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
	} {
		req, _ := http.NewRequest("GET", a.srv.URL+"/user", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: forged})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(resp); body != "" {
			t.Fatalf("forged cookie %q was served the session: %q", forged, body)
		}
	}
	br.must("/user", "ada")
	// A bare token (the signed cookie with its version and MAC stripped) is
	// refused like a forged one while SigningKeys are set...
	bare := func(url string) *http.Response {
		req, _ := http.NewRequest("GET", url+"/user", nil)
		req.AddCookie(&http.Cookie{Name: "session", Value: parts[0]})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	if got := readAll(bare(a.srv.URL)); got != "" {
		t.Fatalf("stripped token was served the session: %q", got)
	}
	// ... unless AcceptUnsignedTokens (moving a deployment to keys): then
	// it is read from the primary and upgraded.
	m := session.New(a.c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	m.SigningKeys, m.AcceptUnsignedTokens = [][]byte{testKey}, true
	migrating := httptest.NewServer(m.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, m.GetString(r.Context(), "user"))
	})))
	defer migrating.Close()
	resp := bare(migrating.URL)
	if got := readAll(resp); got != "ada" {
		t.Fatalf("bare token with AcceptUnsignedTokens: user %q, want ada", got)
	}
	if sc := resp.Header.Get("Set-Cookie"); !strings.HasPrefix(sc, "session="+good+";") {
		t.Fatalf("bare token not upgraded to the signed one: Set-Cookie %q", sc)
	}
}

func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// A save that fewer replicas than Durability.SaveReplicas confirm answers
// through ErrorFunc (503 by default) but still sets the cookie: the session
// is on the primary, and the next request finds it.
func TestNotReplicatedKeepsCookie(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top), Durability: cluster.Durability{SaveReplicas: 1, Timeout: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	srv := httptest.NewServer(app(m))
	defer srv.Close()
	br := newBrowser(t, srv)
	if err := top.Shards[0].Replicas[0].Pause(); err != nil {
		t.Fatal(err)
	}
	defer top.Shards[0].Replicas[0].Resume()
	if code, _ := br.get("/put?k=user&v=ada"); code != http.StatusServiceUnavailable {
		t.Fatalf("unreplicated save answered %d, want 503", code)
	}
	if br.cookie(srv) == "" {
		t.Fatal("no cookie for a session saved on the primary")
	}
	ctx, err := m.Load(context.Background(), br.cookie(srv))
	if err != nil || m.GetString(ctx, "user") != "ada" {
		t.Fatalf("the unreplicated session is not there: %v %q", err, m.GetString(ctx, "user"))
	}
}
