package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// replicated starts a topology with replicas and a Cluster over it with
// opt (Shards filled in), and waits until every replica serves reads.
func replicated(t *testing.T, top redistest.TopologyOptions, opt cluster.Options) (*cluster.Cluster, *redistest.Topology) {
	t.Helper()
	tp := redistest.NewTopology(t, top)
	opt.Shards = clustertest.ShardOptions(tp)
	c, err := cluster.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	clustertest.WaitReplicasHealthy(t, c)
	return c, tp
}

// A replica held behind is read, found stale against the caller's version,
// and the read retried on the primary; once it catches up it serves again.
func TestReplicaReadYourWrites(t *testing.T) {
	ctx := context.Background()
	c, top := replicated(t, redistest.TopologyOptions{Shards: 3, Replicas: 2},
		cluster.Options{Replica: replica.Options{Policy: replica.ReplicaPreferred, MaxLag: time.Hour}})
	exp := time.Now().Add(time.Minute)
	release := clustertest.HoldReplicas(t, top)

	const rounds = 300
	for i := range rounds {
		id := fmt.Sprint("ryw-", i)
		v, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		var info store.ReadInfo
		fields, found, err := c.Load(ctx, id, store.LoadOptions{MinVersion: v, Info: &info})
		if err != nil || !found || fields["user"] != "ada" || store.Version(fields) < v {
			t.Fatalf("round %d: read after create = %v %v %v", i, fields, found, err)
		}
		if info.Replica || !info.Retried {
			t.Fatalf("round %d: a held-back replica answered: %+v", i, info)
		}
		v2, err := c.Save(ctx, id, store.Write{Mode: store.Update, Set: map[string][]byte{"user": []byte("grace")}, ExpireAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		if fields, _, err = c.Load(ctx, id, store.LoadOptions{MinVersion: v2}); err != nil || fields["user"] != "grace" {
			t.Fatalf("round %d: read after update = %v %v", i, fields, err)
		}
	}
	if st := c.ReadStats(); st.StaleRetries < 2*rounds || st.ReplicaReads != 0 {
		t.Fatalf("stats %+v: want every read found stale on a replica and retried", st)
	}

	release()
	var info store.ReadInfo
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		fields, _, err := c.Load(ctx, "ryw-0", store.LoadOptions{MinVersion: 2, Info: &info})
		if err != nil || fields["user"] != "grace" {
			return fmt.Errorf("load = %v, %v", fields, err)
		}
		if !info.Replica {
			return fmt.Errorf("served by the primary: %+v", info)
		}
		return nil
	})
	t.Logf("stats: %+v, stale-retry rate %.2f", c.ReadStats(), c.ReadStats().StaleRetryRate())
}

// PrimaryOnly, set on the cluster or on the request's context, never reads
// a replica; a context may also opt into replicas.
func TestReadPolicyOverride(t *testing.T) {
	ctx := context.Background()
	c, _ := replicated(t, redistest.TopologyOptions{Shards: 1, Replicas: 1}, cluster.Options{})
	if _, err := c.Save(ctx, "id", store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("1")}, ExpireAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	var info store.ReadInfo
	if _, _, err := c.Load(ctx, "id", store.LoadOptions{Info: &info}); err != nil || info.Replica {
		t.Fatalf("default policy read a replica: %+v %v", info, err)
	}
	rctx := replica.WithPolicy(ctx, replica.ReplicaPreferred)
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if _, _, err := c.Load(rctx, "id", store.LoadOptions{MinVersion: 1, Info: &info}); err != nil || !info.Replica {
			return fmt.Errorf("%+v %v", info, err)
		}
		return nil
	})
	if _, _, err := c.Load(rctx, "id", store.LoadOptions{Primary: true, Info: &info}); err != nil || info.Replica {
		t.Fatalf("LoadOptions.Primary read a replica: %+v %v", info, err)
	}
}

// Replicas killed or frozen in the middle of a read load are skipped; every
// read succeeds, from the remaining replica or the primary.
func TestReplicaFailureMidRun(t *testing.T) {
	ctx := context.Background()
	c, top := replicated(t, redistest.TopologyOptions{Shards: 3, Replicas: 2},
		cluster.Options{Replica: replica.Options{Policy: replica.ReplicaPreferred, CheckInterval: 50 * time.Millisecond, CheckTimeout: 200 * time.Millisecond}})
	exp := time.Now().Add(time.Minute)
	const ids = 100
	versions := make([]int64, ids)
	for i := range versions {
		v, err := c.Save(ctx, fmt.Sprint("id-", i), store.Write{Mode: store.Create, Set: map[string][]byte{"n": []byte(fmt.Sprint(i))}, ExpireAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		versions[i] = v
	}

	var reads, failures atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := i % ids
				fields, found, err := c.Load(ctx, fmt.Sprint("id-", id), store.LoadOptions{MinVersion: versions[id]})
				reads.Add(1)
				if err != nil || !found || fields["n"] != fmt.Sprint(id) {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("id-%d: %v %v %v", id, fields, found, err))
				}
			}
		})
	}
	// progress waits until the readers have done n more reads.
	progress := func(n int64) {
		from := reads.Load()
		redistest.Eventually(t, 30*time.Second, func(context.Context) error {
			if reads.Load() < from+n {
				return errors.New("readers stalled")
			}
			return nil
		})
	}
	progress(500)
	for _, sh := range top.Shards {
		if err := sh.Replicas[0].Kill(); err != nil {
			t.Fatal(err)
		}
	}
	progress(500)
	for _, sh := range top.Shards {
		if err := sh.Replicas[1].Pause(); err != nil {
			t.Fatal(err)
		}
		defer sh.Replicas[1].Resume()
	}
	progress(500)
	for _, s := range c.Shards() {
		redistest.Eventually(t, 10*time.Second, func(context.Context) error {
			if n := s.Reads().Healthy(); n != 0 {
				return fmt.Errorf("shard %s: %d healthy replicas: %+v", s.Name(), n, s.Reads().Status())
			}
			return nil
		})
	}
	progress(500)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Fatalf("%d of %d reads failed; first: %v", failures.Load(), reads.Load(), firstErr.Load())
	}
	st := c.ReadStats()
	if st.ReplicaReads == 0 || st.PrimaryReads == 0 {
		t.Fatalf("stats %+v: want reads from replicas, then from primaries", st)
	}
	t.Logf("%d reads, none failed; stats %+v", reads.Load(), st)
}

// WAIT with a frozen replica returns ErrNotReplicated within the timeout;
// the write is on the primary.
func TestWaitNotReplicated(t *testing.T) {
	ctx := context.Background()
	const timeout = time.Second // generous: the machine is shared and slow
	c, top := replicated(t, redistest.TopologyOptions{Shards: 1, Replicas: 2}, cluster.Options{Durability: cluster.Durability{SaveReplicas: 2, Timeout: timeout}})
	exp := time.Now().Add(time.Minute)
	write := store.Write{Mode: store.Create, Set: map[string][]byte{"a": []byte("1")}, ExpireAt: exp}
	// Right after start a replica may not yet be online on the primary's
	// side (its first ACK pending): wait until a save is confirmed.
	n := 0
	redistest.Eventually(t, 15*time.Second, func(context.Context) error {
		n++
		_, err := c.Save(ctx, fmt.Sprint("both-up-", n), write)
		return err
	})
	unconfirmed := c.Stats().UnconfirmedSaves

	if err := top.Shards[0].Replicas[1].Pause(); err != nil {
		t.Fatal(err)
	}
	defer top.Shards[0].Replicas[1].Resume()
	start := time.Now()
	v, err := c.Save(ctx, "one-down", write)
	took := time.Since(start)
	if !errors.Is(err, store.ErrNotReplicated) || v != 1 {
		t.Fatalf("save with a frozen replica = %d, %v; want version 1 and ErrNotReplicated", v, err)
	}
	if took < timeout || took > timeout+3*time.Second {
		t.Fatalf("ErrNotReplicated after %v, want about %v", took, timeout)
	}
	if fields, found, err := c.Load(ctx, "one-down", store.LoadOptions{Primary: true}); err != nil || !found || fields["a"] != "1" {
		t.Fatalf("the unreplicated write is not on the primary: %v %v %v", fields, found, err)
	}
	if st := c.Stats(); st.UnconfirmedSaves != unconfirmed+1 {
		t.Fatalf("stats %+v, want one more unconfirmed save than %d", st, unconfirmed)
	}

	_, err = cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top), Durability: cluster.Durability{SaveReplicas: 3}})
	if !errors.Is(err, cluster.ErrBadOptions) {
		t.Fatalf("SaveReplicas above the replica count: %v, want ErrBadOptions", err)
	}
}

// With the primary down, a replica serves reads (degraded mode) only if it
// holds the caller's last write: a replica behind it fails the read rather
// than answer with older data.
func TestDegradedReadHeldToVersion(t *testing.T) {
	ctx := context.Background()
	c, top := replicated(t, redistest.TopologyOptions{Shards: 1, Replicas: 1}, cluster.Options{})
	exp := time.Now().Add(time.Minute)
	v1, err := c.Save(ctx, "id", store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	rc := top.Shards[0].Replicas[0].Client()
	defer rc.Close()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if v, err := rc.HGet(ctx, c.Key("id"), "_v").Int64(); err != nil || v != v1 {
			return fmt.Errorf("replica has version %d (%v), want %d", v, err, v1)
		}
		return nil
	})
	clustertest.HoldReplicas(t, top)
	v2, err := c.Save(ctx, "id", store.Write{Mode: store.Update, Set: map[string][]byte{"user": []byte("grace")}, ExpireAt: exp})
	if err != nil {
		t.Fatal(err)
	}
	if err := top.Shards[0].Primary.Kill(); err != nil {
		t.Fatal(err)
	}

	if fields, found, err := c.Load(ctx, "id", store.LoadOptions{MinVersion: v2}); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("degraded read behind the caller's version %d = %v %v %v, want ErrUnavailable", v2, fields, found, err)
	}
	for _, min := range []int64{v1, 0} {
		var info store.ReadInfo
		fields, found, err := c.Load(ctx, "id", store.LoadOptions{MinVersion: min, Info: &info})
		if err != nil || !found || fields["user"] != "ada" {
			t.Fatalf("degraded read with MinVersion %d = %v %v %v, want the replica's version %d", min, fields, found, err, v1)
		}
		if !info.Replica || info.Node != top.Shards[0].Replicas[0].Addr() {
			t.Errorf("degraded read with MinVersion %d: info %+v, want the replica %s", min, info, top.Shards[0].Replicas[0].Addr())
		}
	}
	if n := c.Shards()[0].Stats().DegradedReads; n != 2 {
		t.Errorf("shard counted %d degraded reads, want 2", n)
	}
}

// A replica whose record has the caller's version but was made by another
// write (a record on a branch of history a failover discarded) is not
// trusted: the primary answers. Compared by version alone, it would be.
func TestReplicaDivergedRecordNotTrusted(t *testing.T) {
	ctx := context.Background()
	c, top := replicated(t, redistest.TopologyOptions{Shards: 1, Replicas: 1},
		cluster.Options{Replica: replica.Options{Policy: replica.ReplicaPreferred, MaxLag: time.Hour}})
	exp := time.Now().Add(time.Minute)
	v, err := c.Save(ctx, "fork", store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: exp, ID: "a1"})
	if err != nil {
		t.Fatal(err)
	}
	rc := top.Shards[0].Replicas[0].Client()
	defer rc.Close()
	key := c.Key("fork")
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if w, err := rc.HGet(ctx, key, store.WriteField).Result(); err != nil || w != "a1" {
			return fmt.Errorf("replica's write ID = %q, %v", w, err)
		}
		return nil
	})
	// The replica's copy becomes another record at the same version.
	if err := rc.ConfigSet(ctx, "replica-read-only", "no").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rc.HSet(ctx, key, store.WriteField, "b2", "user", "mallory").Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		minWrite string
		user     string
		replica  bool
	}{
		{"version and write", "a1", "ada", false},
		{"version only", "", "mallory", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var info store.ReadInfo
			fields, _, err := c.Load(ctx, "fork", store.LoadOptions{MinVersion: v, MinWrite: tt.minWrite, Info: &info})
			if err != nil || fields["user"] != tt.user || info.Replica != tt.replica || info.Retried == tt.replica {
				t.Fatalf("load = %v, %v, %+v; want user %s from a replica: %v", fields, err, info, tt.user, tt.replica)
			}
			want := top.Shards[0].Primary.Addr()
			if tt.replica {
				want = top.Shards[0].Replicas[0].Addr()
			}
			if info.Node != want {
				t.Fatalf("ReadInfo.Node = %s, want %s, the node that answered", info.Node, want)
			}
		})
	}
	before := c.ReadStats().VersionRegressions
	fields, _, err := c.Load(ctx, "fork", store.LoadOptions{MinVersion: v, MinWrite: "zz", Primary: true})
	if err != nil || fields["user"] != "ada" || c.ReadStats().VersionRegressions != before+1 {
		t.Fatalf("primary at the version with another write: %v, %v, %+v; want its record and a regression counted", fields, err, c.ReadStats())
	}
	// A touch changes neither the version nor the write that made it.
	if tv, err := c.Save(ctx, "fork", store.Write{Mode: store.Touch, ExpireAt: exp, ID: "t1"}); err != nil || tv != v {
		t.Fatalf("touch = %d, %v; want version %d", tv, err, v)
	}
	if w, err := c.Shards()[0].Primary().HGet(ctx, key, store.WriteField).Result(); err != nil || w != "a1" {
		t.Fatalf("after a touch the write ID is %q, %v; want a1", w, err)
	}
}
