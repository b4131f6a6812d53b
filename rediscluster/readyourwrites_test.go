package rediscluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// webNode is one web node of a fleet reading from replicas: its own
// Cluster (its own connections, as another process would have) under
// ReplicaPreferred, and a Manager with the fleet's signing key.
func webNode(t *testing.T) (*rediscluster.Cluster, string) {
	t.Helper()
	c, err := rediscluster.New(rediscluster.Options{
		Addrs:      rediscluster.Shared(t).Addrs(),
		KeyPrefix:  "t:" + t.Name() + ":",
		ReadPolicy: replica.ReplicaPreferred,
		// Logouts do not wait for replicas here: with replicas held back
		// every WAIT would run to its timeout. This test is about reads.
		Durability: rediscluster.Durability{DeleteReplicas: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// Replicas serve reads once the client's table lists them: write on
	// every master and wait for that.
	var ids []string
	for _, on := range rediscluster.IDsOnEveryMaster(t, c, 1) {
		if _, err := c.Save(context.Background(), on[0], store.Write{Mode: store.Create, ExpireAt: time.Now().Add(time.Minute)}); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatal(err)
		}
		ids = append(ids, on[0])
	}
	rediscluster.WaitReplicaReads(t, c, ids...)
	m := session.New(c)
	m.Cookie.Name, m.Cookie.Secure = "session", false
	m.SigningKeys = [][]byte{bytes.Repeat([]byte("k"), 32)}
	return c, webtest.Serve(t, loginApp(m))
}

// A user logs in on node A and reads on node B at once, then logs out on
// A and reads on B at once, with every replica held back (CLIENT PAUSE
// WRITE: linked, answering reads, applying nothing), then with
// replication running. B reads from replicas, yet never returns a session
// older than the user's own last write: the signed cookie carries the
// version, and a replica behind it is retried on the master.
func TestReadYourWritesOnReplicas(t *testing.T) {
	_, onA := webNode(t)
	b, onB := webNode(t)
	br := webtest.New(t)
	const rounds = 100
	round := func(i int) {
		user := fmt.Sprint("user-", i)
		if code, body := br.Post(onA+"/login", url.Values{"user": {user}}); code != http.StatusOK {
			t.Fatalf("login: %d %s", code, body)
		}
		// Both nodes are on 127.0.0.1: the browser sends B the cookie A set.
		if _, got := br.Get(onB + "/whoami"); strings.TrimSpace(got) != user {
			t.Fatalf("round %d: after login node B says %q, want %q", i, got, user)
		}
		br.Post(onA+"/logout", nil)
		if _, got := br.Get(onB + "/whoami"); strings.TrimSpace(got) != "" {
			t.Fatalf("round %d: after logout node B says %q, want no user", i, got)
		}
	}
	release := holdAllReplicas(t)
	for i := range rounds / 2 {
		round(i)
	}
	held := b.ReadStats()
	release()
	for i := rounds / 2; i < rounds; i++ {
		round(i)
	}
	// With every replica held, each read after a login must have found the
	// replica behind and gone to the master.
	if held.StaleRetries < rounds/2 {
		t.Fatalf("replicas held: only %d stale replica answers retried (%+v)", held.StaleRetries, held)
	}
	t.Logf("replicas held: %+v", held)
	t.Logf("after release, in all: %+v", b.ReadStats())
}

// holdAllReplicas holds every replica of the shared cluster (CLIENT PAUSE
// WRITE) until the returned func, or the test's end.
func holdAllReplicas(t *testing.T) (release func()) {
	t.Helper()
	ctx := context.Background()
	rc := rediscluster.Shared(t)
	masters, err := rc.Masters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var held []*redistest.Server
	for _, m := range masters {
		rs, err := rc.ReplicasOf(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, rs...)
	}
	return clustertest.HoldServers(t, held)
}
