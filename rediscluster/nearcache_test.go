package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// nearNode is one web node: its own Cluster (own connections) and near
// cache, over the shared Redis Cluster, under the test's key prefix.
type nearNode struct {
	c  *Cluster
	nc *NearCache
}

func newNearNodes(t *testing.T, addrs []string, n int) []*nearNode {
	t.Helper()
	prefix := "t:" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + ":"
	nodes := make([]*nearNode, n)
	for i := range nodes {
		c, err := New(Options{Addrs: addrs, KeyPrefix: prefix, Durability: Durability{DeleteReplicas: -1}})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := NewNearCache(c, NearCacheOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close(); c.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := nc.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		nodes[i] = &nearNode{c, nc}
	}
	return nodes
}

// decodeV is a decode function: the session's "v" field.
func decodeV(fields map[string]string) (any, int, error) { return fields["v"], len(fields["v"]), nil }

// read returns node's view of id's "v", through its cache.
func (n *nearNode) read(t testing.TB, id string) string {
	t.Helper()
	v, found, err := n.nc.LoadDecoded(context.Background(), id, "owner", 0, decodeV)
	if err != nil || !found {
		t.Fatalf("LoadDecoded(%s) = %v, %v", id, found, err)
	}
	return v.(string)
}

func (n *nearNode) write(t testing.TB, id, v string, mode store.WriteMode) {
	t.Helper()
	w := store.Write{Mode: mode, Set: map[string][]byte{"v": []byte(v)}, ExpireAt: time.Now().Add(time.Hour)}
	if _, err := n.nc.Save(context.Background(), id, w); err != nil {
		t.Fatalf("Save(%s, %s): %v", id, v, err)
	}
}

// A write on one node drops every other node's cached copy, on every
// master; the writer reads its own write from its cache; a node that never
// read a session is told nothing of its writes.
func TestNearCacheCoherence(t *testing.T) {
	nodes := newNearNodes(t, shared.Addrs(), 3)
	a, b, bystander := nodes[0], nodes[1], nodes[2]
	var ids []string
	for _, byMaster := range idsOnEveryMaster(t, a.c, 2) {
		ids = append(ids, byMaster...)
	}
	for _, id := range ids {
		a.write(t, id, "0", store.Create)
	}
	const rounds = 1000
	for i := 1; i <= rounds; i++ {
		id := ids[i%len(ids)]
		a.read(t, id) // cached, and tracked for a on id's master
		want := fmt.Sprint(i)
		b.write(t, id, want, store.Update)
		if got := b.read(t, id); got != want {
			t.Fatalf("round %d: the writer reads %q from its cache, want %q", i, got, want)
		}
		// The invalidation reaches a right after b's reply; allow for its
		// delivery, never for a stale answer after it.
		redistest.Eventually(t, time.Second, func(context.Context) error {
			if got := a.read(t, id); got != want {
				return fmt.Errorf("round %d: %s reads %q, want %q", i, id, got, want)
			}
			return nil
		})
	}
	sa, sb, sc := a.nc.Stats(), b.nc.Stats(), bystander.nc.Stats()
	t.Logf("reader %+v\nwriter %+v\nbystander %+v", sa, sb, sc)
	if sa.Invalidations < rounds {
		t.Errorf("reader: %d invalidations in %d rounds", sa.Invalidations, rounds)
	}
	if sa.Hits == 0 {
		t.Error("reader: no hit")
	}
	if sb.Hits < rounds-uint64(len(ids)) {
		// The first write of each session is made without a cached copy
		// to apply it to: the writer's read after it is its one miss.
		t.Errorf("writer: %d hits in %d rounds: it should read its writes from its cache", sb.Hits, rounds)
	}
	if sc.Invalidations != 0 {
		t.Errorf("bystander heard %d invalidations of sessions it never read", sc.Invalidations)
	}
	if n := len(a.nc.Streams()); n != 3 {
		t.Errorf("reader has %d streams, want one per master (3)", n)
	}
}

// A slot that moves to another master takes its sessions out of every
// node's cache (MIGRATE deletes them from the source, which pushes their
// invalidations); the next read is tracked on the new master, whose writes
// then reach the node.
func TestNearCacheFollowsSlotMove(t *testing.T) {
	nodes := newNearNodes(t, shared.Addrs(), 2)
	a, b := nodes[0], nodes[1]
	id := "moving"
	key := a.c.Key(id)
	a.write(t, id, "before", store.Create)
	b.read(t, id)
	if got := a.read(t, id); got != "before" {
		t.Fatalf("read %q", got)
	}
	from := a.c.Locate(id)
	inv := b.nc.Stats().Invalidations
	m := newSlotMove(t, key)
	m.migrate(t, key)
	m.finish(t)
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		if b.nc.Stats().Invalidations == inv {
			return errors.New("no invalidation for the moved key yet")
		}
		return nil
	})
	redistest.Eventually(t, 5*time.Second, func(ctx context.Context) error {
		a.c.client.ReloadState(ctx)
		b.c.client.ReloadState(ctx)
		if a.c.Locate(id) == from || b.c.Locate(id) == from {
			return errors.New("slot table not reloaded yet")
		}
		return nil
	})
	if got := b.read(t, id); got != "before" {
		t.Fatalf("after the move: %q", got)
	}
	a.write(t, id, "after", store.Update)
	redistest.Eventually(t, time.Second, func(context.Context) error {
		if got := b.read(t, id); got != "after" {
			return fmt.Errorf("b reads %q after a's write on the new master", got)
		}
		return nil
	})
	if n := len(b.nc.Streams()); n != 3 {
		t.Errorf("%d streams, want 3", n)
	}
}

// A master that hangs (SIGSTOP) is replaced by its replica after
// cluster-node-timeout; a node that cached its sessions must not serve them
// once the promoted replica accepts another node's write: its stream has
// been silent for longer than the health interval (a quarter of the node
// timeout), so a hit waits for a check the frozen master cannot answer.
func TestNearCacheHungMaster(t *testing.T) {
	rc, err := redistest.StartRedisCluster(context.Background(), redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	nodes := newNearNodes(t, rc.Addrs(), 2)
	a, b := nodes[0], nodes[1]
	id := "hung"
	b.write(t, id, "before", store.Create)
	if err := waitReplicated(rc, b.c.Key(id)); err != nil {
		t.Fatal(err)
	}
	if got := a.read(t, id); got != "before" {
		t.Fatal(got)
	}
	ctx := context.Background()
	master, err := rc.MasterForKey(ctx, b.c.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	// cluster-node-timeout is 1 s here: a hit needs the stream heard from
	// in the last 250 ms, well within the time a replica needs to be
	// elected (node timeout, then at least 500 ms of election).
	if a.nc.health != time.Second/4 {
		t.Fatalf("health interval %v, want a quarter of cluster-node-timeout (250ms)", a.nc.health)
	}
	before := a.nc.Stats()
	if err := master.Pause(); err != nil {
		t.Fatal(err)
	}
	defer master.Resume()
	// b writes as soon as the promoted replica takes it.
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		b.c.client.ReloadState(ctx)
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := b.nc.Save(ctx, id, store.Write{Mode: store.Update, Set: map[string][]byte{"v": []byte("after")}, ExpireAt: time.Now().Add(time.Hour)})
		return err
	})
	// a still holds "before", from a stream silent since the master froze.
	rctx, cancel := context.WithTimeout(ctx, time.Second)
	v, _, err := a.nc.LoadDecoded(rctx, id, "owner", 0, decodeV)
	cancel()
	if err == nil && v == "before" {
		t.Fatal("the reader served its cached value after a promoted replica took a write")
	}
	after := a.nc.Stats()
	t.Logf("first read after the write: %v, %v; checks %d, flushes %d", v, err, after.Checks-before.Checks, after.Flushes-before.Flushes)
	// a's slot table still names the frozen master until a reload reaches
	// a node that answers (go-redis asks nodes in random order, and one
	// that hangs holds a reload for its ReadTimeout): on a loaded machine,
	// many seconds. What matters is that a never serves the old value.
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		a.c.client.ReloadState(ctx)
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		v, found, err := a.nc.LoadDecoded(ctx, id, "owner", 0, decodeV)
		if err != nil || !found {
			return fmt.Errorf("LoadDecoded = %v, %v", found, err)
		}
		if v != "after" {
			t.Fatalf("the reader serves %q after the promoted master took the write", v)
		}
		return nil
	})
}

// waitReplicated waits until key is on the replica of its master.
func waitReplicated(rc *redistest.RedisCluster, key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := rc.MasterForKey(ctx, key)
	if err != nil {
		return err
	}
	reps, err := rc.ReplicasOf(ctx, m)
	if err != nil || len(reps) == 0 {
		return fmt.Errorf("replicas of %s: %v, %w", m.Name, reps, err)
	}
	for _, r := range reps {
		c := r.Client()
		defer c.Close()
		for {
			c.ReadOnly(ctx)
			if n, err := c.Exists(ctx, key).Result(); err == nil && n == 1 {
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s never replicated to %s", key, r.Name)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}
