package cluster_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// endpointCluster is a Cluster over top whose shard name is reached
// through a forwarder, as through a managed service's primary endpoint;
// the other shards by their addresses.
func endpointCluster(t *testing.T, top *redistest.Topology, name string) (*cluster.Cluster, *redistest.Forwarder) {
	t.Helper()
	fwd := redistest.NewForwarder(t, top.Shard(name).Primary.Addr())
	opts := clustertest.ShardOptions(top)
	for i := range opts {
		if opts[i].Name == name {
			opts[i].Addr = fwd.Addr()
		}
	}
	c, err := cluster.New(cluster.Options{Shards: opts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, fwd
}

// The managed-service version of TestDeleteNotResurrectedByFailover: no
// Sentinel, the provider promotes the replica and repoints the endpoint.
// A delete that no replica confirmed is journalled on the other shard;
// the shard sees another primary behind its address on reconnecting, and
// the cluster deletes the session again and never loads it.
func TestLogoutSurvivesEndpointFailover(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	c, fwd := endpointCluster(t, top, "s0")
	ctx := context.Background()
	id := idOn(t, c, "s0")
	create(t, c, id)
	s0 := top.Shard("s0")

	// The provider's failover: the primary dies, the replica (which missed
	// the DEL) is promoted, the endpoint leads to it.
	deleteThenLosePrimary(t, c, s0, id)
	rc := s0.Replicas[0].Client()
	defer rc.Close()
	if err := rc.Do(ctx, "REPLICAOF", "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rc.Exists(ctx, c.Key(id)).Result(); err != nil || n != 1 {
		t.Fatalf("the promoted replica should still hold the deleted session: %d, %v", n, err)
	}
	fwd.Repoint(s0.Replicas[0].Addr())

	sh := c.ShardFor(id)
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if _, found, err := c.Load(ctx, id, store.LoadOptions{}); err != nil || found {
			return fmt.Errorf("load after failover: found=%v err=%v", found, err)
		}
		if n, err := rc.Exists(ctx, c.Key(id)).Result(); err != nil || n != 0 {
			return fmt.Errorf("key still on the new primary: %d, %v", n, err)
		}
		if st := c.Stats(); st.Replayed < 1 {
			return fmt.Errorf("stats %+v: the journal was not replayed", st)
		}
		return nil
	})
	if n := sh.Stats().Switches; n != 1 {
		t.Fatalf("shard %s: Switches = %d, want 1", sh.Name(), n)
	}
}
