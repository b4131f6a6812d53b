package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/chaos"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// idOn returns a session ID that the cluster routes to the shard named name.
func idOn(t *testing.T, c *cluster.Cluster, name string) string {
	for i := range 10000 {
		if id := fmt.Sprintf("session-%d", i); c.Locate(id) == name {
			return id
		}
	}
	t.Fatalf("no ID routes to %s", name)
	return ""
}

// create stores a one-field session and waits until s0's replicas have it.
func create(t *testing.T, c *cluster.Cluster, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// Saves are auto-pipelined on a connection of their own, so a WAIT on
	// another connection would not cover this one: look on the replicas.
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		for _, r := range c.ShardFor(id).Replicas() {
			if n, err := r.Exists(ctx, c.Key(id)).Result(); err != nil || n != 1 {
				return fmt.Errorf("replica %s: exists = %d, %v", r.Options().Addr, n, err)
			}
		}
		return nil
	})
}

// deleteThenLosePrimary deletes id while sh's replica misses the DEL, checks
// that the delete was journalled, then kills sh's primary and resumes the
// replica, which still holds the session: what a failover then promotes.
func deleteThenLosePrimary(t *testing.T, c *cluster.Cluster, sh *redistest.Shard, id string) {
	t.Helper()
	ctx := context.Background()
	// The replica must really miss the DEL: frozen alone it would still
	// find it in its socket buffer on resume.
	if err := chaos.LagReplica(ctx, chaos.ProcessNode(sh.Primary), chaos.ProcessNode(sh.Replicas[0])); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Delete(ctx, id); err != nil {
		sh.Replicas[0].Resume()
		t.Fatalf("Delete with a frozen replica: %v (want nil: journalled)", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Delete took %v, want about the 250 ms WAIT timeout", d)
	}
	if st := c.Stats(); st.UnconfirmedDeletes != 1 || st.Journalled != 1 {
		t.Fatalf("stats %+v, want one unconfirmed, journalled delete", st)
	}
	if err := sh.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := sh.Replicas[0].Resume(); err != nil {
		t.Fatal(err)
	}
}

// A delete that no replica confirmed (the replica was frozen) is journalled
// on another shard; when Sentinel promotes that replica, which still has
// the session, the cluster deletes it again and never loads it.
func TestDeleteNotResurrectedByFailover(t *testing.T) {
	c, top := clustertest.NewSentinel(t, redistest.TopologyOptions{Shards: 2, Replicas: 1, Sentinels: 3, DownAfter: time.Second, FailoverTimeout: 3 * time.Second}, cluster.Options{})
	id := idOn(t, c, "s0")
	create(t, c, id)
	s0 := top.Shard("s0")

	deleteThenLosePrimary(t, c, s0, id)
	// The promoted replica never saw the DEL.
	rc := s0.Replicas[0].Client()
	defer rc.Close()
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if c.ShardFor(id).LastSwitch().IsZero() {
			return errors.New("no switch seen yet")
		}
		if _, found, err := c.Load(ctx, id, store.LoadOptions{}); err != nil || found {
			return fmt.Errorf("load after failover: found=%v err=%v", found, err)
		}
		if n, err := rc.Exists(ctx, c.Key(id)).Result(); err != nil || n != 0 {
			return fmt.Errorf("key still on the new primary: %d, %v", n, err)
		}
		if st := c.Stats(); st.Replayed+st.RevokedOnLoad < 1 {
			return fmt.Errorf("stats %+v: neither replay nor load check has deleted the session", st)
		}
		return nil
	})
}

// With one replica confirming, Delete needs no journal.
func TestDeleteWaitsForReplica(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	ctx := context.Background()
	id := idOn(t, c, "s1")
	create(t, c, id)
	if err := c.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	// The DEL is on the replica when Delete returns: no polling needed.
	rc := top.Shard("s1").Replicas[0].Client()
	defer rc.Close()
	if n, err := rc.Exists(ctx, c.Key(id)).Result(); err != nil || n != 0 {
		t.Fatalf("replica still has the key after Delete: %d, %v", n, err)
	}
	if st := c.Stats(); st.UnconfirmedDeletes != 0 || st.Journalled != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A single shard has no witness: an unconfirmed delete is an error, so the
// caller knows the logout may not hold.
func TestDeleteUnconfirmedWithoutWitness(t *testing.T) {
	c, top := clustertest.New(t, redistest.TopologyOptions{Shards: 1, Replicas: 1})
	ctx := context.Background()
	id := "lonely"
	create(t, c, id)
	r := top.Shards[0].Replicas[0]
	if err := r.Pause(); err != nil {
		t.Fatal(err)
	}
	defer r.Resume()
	if err := c.Delete(ctx, id); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("unconfirmed delete on a lone shard = %v, want ErrUnavailable", err)
	}
	pc := top.Shards[0].Primary.Client()
	defer pc.Close()
	if n, _ := pc.Exists(ctx, c.Key(id)).Result(); n != 0 {
		t.Fatal("the primary still has the key")
	}
}
