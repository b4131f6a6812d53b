package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/store"
)

// replicaOf returns the replica of the master of session id's slot on the
// shared cluster (one per master).
func replicaOf(t testing.TB, c *Cluster, id string) *redistest.Server {
	t.Helper()
	ctx := context.Background()
	m, err := shared.MasterForKey(ctx, c.Key(id))
	if err != nil {
		t.Fatal(err)
	}
	rs, err := shared.ReplicasOf(ctx, m)
	if err != nil || len(rs) != 1 {
		t.Fatalf("replicas of %s: %v, %v", m.Name, rs, err)
	}
	return rs[0]
}

// waitReplicaReads waits until c's reader routes reads of every id to a
// replica. Redis 7 leaves a replica out of CLUSTER SLOTS until it reports
// a replication offset (after its master's first write), each node learns
// that offset by gossip, and go-redis reloads its table lazily from any
// node: on a fresh cluster, replicas are not read at once, and a table
// read from a node that has not heard yet drops them again. So this waits
// until every node of the shared cluster lists a replica for each id's
// slot, then until the reader's table does. Each id's master must have
// been written.
func waitReplicaReads(t testing.TB, c *Cluster, ids ...string) {
	t.Helper()
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		for _, s := range shared.Nodes {
			nc := s.Client()
			slots, err := nc.ClusterSlots(ctx).Result()
			nc.Close()
			if err != nil {
				return err
			}
			for _, id := range ids {
				slot := keySlot(c.Key(id))
				for _, r := range slots {
					if r.Start <= slot && slot <= r.End && len(r.Nodes) < 2 {
						return fmt.Errorf("%s lists no replica for slot %d", s.Name, slot)
					}
				}
			}
		}
		c.reader.client.ReloadState(ctx)
		for _, id := range ids {
			if _, node, isReplica := c.reader.pick(ctx, c.Key(id)); !isReplica {
				return fmt.Errorf("reads of %s go to %s, not a replica", id, node)
			}
		}
		return nil
	})
}

// hold makes the replica s stop applying its replication stream while it
// keeps answering reads (mode WRITE; ALL: it answers nothing), for d or
// until the returned func (or the test's end) releases it.
func hold(t testing.TB, s *redistest.Server, mode string, d time.Duration) (release func()) {
	t.Helper()
	c := s.Client()
	defer c.Close()
	if err := c.Do(context.Background(), "CLIENT", "PAUSE", d.Milliseconds(), mode).Err(); err != nil {
		t.Fatal(err)
	}
	release = func() {
		c := s.Client()
		defer c.Close()
		c.Do(context.Background(), "CLIENT", "UNPAUSE")
	}
	t.Cleanup(release)
	return release
}

// Which node answers a Load under ReplicaPreferred, for the caller's
// LoadOptions, with the replica caught up.
func TestReplicaReads(t *testing.T) {
	c := newCluster(t, Options{ReadPolicy: replica.ReplicaPreferred, Durability: Durability{SaveReplicas: 1, Timeout: time.Second}})
	ctx := context.Background()
	v, err := c.Save(ctx, "r", store.Write{Mode: store.Create, Set: map[string][]byte{"v:user": []byte("ada")}, ExpireAt: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatalf("Save with WAIT 1: %v", err)
	}
	waitReplicaReads(t, c, "r", "nope")
	master, rep := c.Locate("r"), replicaOf(t, c, "r").Addr()
	tests := []struct {
		name    string
		ctx     context.Context
		id      string
		opt     store.LoadOptions
		node    string
		retried bool
		found   bool
	}{
		{"no version", ctx, "r", store.LoadOptions{}, rep, false, true},
		{"fresh at MinVersion", ctx, "r", store.LoadOptions{MinVersion: v}, rep, false, true},
		{"ahead of the caller", ctx, "r", store.LoadOptions{MinVersion: v - 1}, rep, false, true},
		{"behind the caller", ctx, "r", store.LoadOptions{MinVersion: v + 1}, master, true, true},
		{"MinWrite mismatch", ctx, "r", store.LoadOptions{MinVersion: v, MinWrite: "another-write"}, master, true, true},
		{"Primary", ctx, "r", store.LoadOptions{Primary: true}, master, false, true},
		{"version unknown", ctx, "r", store.LoadOptions{MinVersion: -1}, master, false, true},
		{"context primary-only", replica.WithPolicy(ctx, replica.PrimaryOnly), "r", store.LoadOptions{}, master, false, true},
		{"missing, no version", ctx, "nope", store.LoadOptions{}, replicaOf(t, c, "nope").Addr(), false, false},
		{"missing, caller saw it", ctx, "nope", store.LoadOptions{MinVersion: 1}, c.Locate("nope"), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info store.ReadInfo
			tt.opt.Info = &info
			fields, found, err := c.Load(tt.ctx, tt.id, tt.opt)
			if err != nil || found != tt.found || (found && fields["v:user"] != "ada") {
				t.Fatalf("Load = %v, %v, %v", fields, found, err)
			}
			want := store.ReadInfo{Shard: c.Locate(tt.id), Node: tt.node, Replica: tt.node != c.Locate(tt.id), Retried: tt.retried}
			if info != want {
				t.Fatalf("ReadInfo = %+v, want %+v", info, want)
			}
		})
	}
	if s := c.ReadStats(); s.StaleRetries != 3 || s.ReplicaReads != 4 || s.VersionRegressions != 2 {
		t.Fatalf("ReadStats = %+v", s)
	}
}

// A replica that does not apply its stream: a read that needs the write it
// lacks is retried on the master and returns the fresh record; a read
// that does not is served by the replica.
func TestLaggingReplicaRetried(t *testing.T) {
	c := newCluster(t, Options{ReadPolicy: replica.ReplicaPreferred, Durability: Durability{SaveReplicas: 1, Timeout: time.Second}})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	v1, err := c.Save(ctx, "lag", store.Write{Mode: store.Create, Set: map[string][]byte{"v:n": []byte("1")}, ExpireAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	waitReplicaReads(t, c, "lag")
	rep := replicaOf(t, c, "lag")
	release := hold(t, rep, "WRITE", 5*time.Minute)
	v2, err := c.Save(ctx, "lag", store.Write{Mode: store.Update, Set: map[string][]byte{"v:n": []byte("2")}, ExpireAt: exp})
	if !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("Save with the replica held = %d, %v; want ErrNotReplicated", v2, err)
	}
	tests := []struct {
		name    string
		min     int64
		n       string
		replica bool
	}{
		{"caller wrote v2", v2, "2", false},
		{"caller saw v1", v1, "1", true},
	}
	for _, tt := range tests {
		var info store.ReadInfo
		fields, _, err := c.Load(ctx, "lag", store.LoadOptions{MinVersion: tt.min, Info: &info})
		if err != nil || fields["v:n"] != tt.n || info.Replica != tt.replica || info.Retried == tt.replica {
			t.Fatalf("%s: Load = %v, %v, %+v; want v:n %s from a replica %v", tt.name, fields, err, info, tt.n, tt.replica)
		}
	}
	release()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		var info store.ReadInfo
		if _, _, err := c.Load(ctx, "lag", store.LoadOptions{MinVersion: v2, Info: &info}); err != nil || !info.Replica {
			return fmt.Errorf("replica not caught up: %+v, %v", info, err)
		}
		return nil
	})
}

// A replica that does not answer: the master does, and the replica is then
// skipped rather than waited for on every read.
func TestFailingReplicaFallsBack(t *testing.T) {
	c := newCluster(t, Options{ReadPolicy: replica.ReplicaPreferred, Client: &redis.ClusterOptions{ReadTimeout: 200 * time.Millisecond, MaxRetries: -1}})
	ctx := context.Background()
	if _, err := c.Save(ctx, "f", store.Write{Mode: store.Create, Set: map[string][]byte{"v:n": []byte("1")}, ExpireAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	waitReplicaReads(t, c, "f")
	hold(t, replicaOf(t, c, "f"), "ALL", 3*time.Second)
	for i, retried := range []bool{true, false} {
		var info store.ReadInfo
		start := time.Now()
		fields, _, err := c.Load(ctx, "f", store.LoadOptions{Info: &info})
		if err != nil || fields["v:n"] != "1" || info.Replica || info.Retried != retried {
			t.Fatalf("read %d: Load = %v, %v, %+v; want the master's, Retried %v", i, fields, err, info, retried)
		}
		t.Logf("read %d: %v", i, time.Since(start).Round(time.Millisecond))
	}
	if s := c.ReadStats(); s.ReplicaErrors != 1 {
		t.Fatalf("ReadStats = %+v, want 1 replica error", s)
	}
}

// LowestLatency reads from whichever node of the slot go-redis measured
// fastest, master or replica, and says which.
func TestLowestLatencyReads(t *testing.T) {
	c := newCluster(t, Options{ReadPolicy: replica.LowestLatency})
	ctx := context.Background()
	if _, err := c.Save(ctx, "l", store.Write{Mode: store.Create, ExpireAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{c.Locate("l"): true, replicaOf(t, c, "l").Addr(): true}
	var info store.ReadInfo
	if _, found, err := c.Load(ctx, "l", store.LoadOptions{MinVersion: 1, Info: &info}); err != nil || !found || !nodes[info.Node] || info.Replica != (info.Node != c.Locate("l")) {
		t.Fatalf("Load = %v, %v, %+v", found, err, info)
	}
}

func TestReadPolicyValidated(t *testing.T) {
	if _, err := New(Options{Addrs: []string{"127.0.0.1:7000"}, ReadPolicy: 7}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("New with policy 7 = %v, want ErrBadOptions", err)
	}
}

// A master that does not answer, its slot not failed over: a read its
// held-back replica cannot serve fails closed with ErrUnavailable, never
// "no session"; a read the replica can serve still succeeds. (CLIENT PAUSE
// ALL on the master: it answers no client, but its cluster bus runs, so
// the cluster does not fail it over.)
func TestMasterDownStaleReplicaFailsClosed(t *testing.T) {
	c := newCluster(t, Options{
		ReadPolicy: replica.ReplicaPreferred,
		Durability: Durability{SaveReplicas: 1, Timeout: 200 * time.Millisecond},
		// Long enough for a loaded machine's replica to answer, short
		// enough to give up on the paused master well within its pause.
		Client: &redis.ClusterOptions{ReadTimeout: 500 * time.Millisecond, MaxRetries: -1},
	})
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	v1, err := c.Save(ctx, "down", store.Write{Mode: store.Create, Set: map[string][]byte{"v:n": []byte("1")}, ExpireAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	waitReplicaReads(t, c, "down")
	hold(t, replicaOf(t, c, "down"), "WRITE", 5*time.Minute)
	v2, err := c.Save(ctx, "down", store.Write{Mode: store.Update, Set: map[string][]byte{"v:n": []byte("2")}, ExpireAt: exp})
	if !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("Save with the replica held = %d, %v", v2, err)
	}
	master, err := shared.MasterForKey(ctx, c.Key("down"))
	if err != nil {
		t.Fatal(err)
	}
	hold(t, master, "ALL", 4*time.Second)
	tests := []struct {
		name  string
		min   int64
		avail bool
	}{
		{"replica behind the caller", v2, false},
		{"replica has the caller's version", v1, true},
	}
	for _, tt := range tests {
		var info store.ReadInfo
		fields, found, err := c.Load(ctx, "down", store.LoadOptions{MinVersion: tt.min, Info: &info})
		switch {
		case !tt.avail && (!errors.Is(err, store.ErrUnavailable) || found):
			t.Fatalf("%s: Load = %v, %v; want ErrUnavailable", tt.name, found, err)
		case tt.avail && (err != nil || fields["v:n"] != "1" || !info.Replica):
			t.Fatalf("%s: Load = %v, %v, %+v; want v1 from the replica", tt.name, fields, err, info)
		}
	}
}
