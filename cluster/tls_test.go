package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/chaos"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// Over a TLS-only topology (servers and sentinels listen for TLS only and
// want client certificates) everything works through the client
// template's TLSConfig: saves, the near cache's tracking stream, the
// Sentinel watcher. A logout that no replica confirmed before the
// primary is killed does not come back: the watcher hears +switch-master
// over TLS and the revocation journal is replayed on the new primary.
func TestTLSOnlyFailoverKeepsLogout(t *testing.T) {
	ctx := context.Background()
	certs, err := redistest.NewTLS(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1, Sentinels: 3,
		DownAfter: time.Second, FailoverTimeout: 3 * time.Second, TLS: certs})
	opts := clustertest.SentinelShardOptions(top)
	for i := range opts {
		opts[i].Client = &redis.Options{TLSConfig: certs.ClientConfig(),
			DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
	}
	c, err := cluster.New(cluster.Options{Shards: opts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	readyCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := nc.Ready(readyCtx); err != nil {
		t.Fatalf("tracking over TLS: %v", err)
	}
	switched := make(chan failover.Event, 1)
	c.ShardFor(idOn(t, c, "s0")).OnFailover(func(ev failover.Event) {
		if ev.Kind == failover.SwitchMaster {
			select {
			case switched <- ev:
			default:
			}
		}
	})

	// Log in (a session that must survive) and log out another one on s0,
	// with the replica lagging so that the DEL is journalled, not confirmed.
	login, logout := idOn(t, c, "s0"), fmt.Sprintf("%s-out", idOn(t, c, "s0"))
	for c.Locate(logout) != "s0" {
		logout += "x"
	}
	create(t, c, login)
	create(t, c, logout)
	s0 := top.Shard("s0")
	if err := chaos.LagReplica(ctx, chaos.ProcessNode(s0.Primary), chaos.ProcessNode(s0.Replicas[0])); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, logout); err != nil {
		s0.Replicas[0].Resume()
		t.Fatalf("Delete with a lagging replica: %v (want nil: journalled)", err)
	}
	if st := c.Stats(); st.Journalled != 1 {
		s0.Replicas[0].Resume()
		t.Fatalf("stats %+v, want the delete journalled", st)
	}
	if err := s0.Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s0.Replicas[0].Resume(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case ev := <-switched:
		if ev.New != s0.Replicas[0].Addr() {
			t.Fatalf("switched to %s, want the replica %s", ev.New, s0.Replicas[0].Addr())
		}
		t.Logf("+switch-master heard over TLS %v after the kill", time.Since(killed).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatal("no +switch-master heard within 20 s of the kill")
	}
	sh := c.ShardFor(login)
	if n := sh.Stats().Switches; n != 1 {
		t.Errorf("shard stats count %d switches, want 1", n)
	}
	rc := s0.Replicas[0].Client()
	defer rc.Close()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if st := c.Stats(); st.Replayed < 1 {
			return fmt.Errorf("journal not replayed yet: %+v", st)
		}
		if n, err := rc.Exists(ctx, c.Key(logout)).Result(); err != nil || n != 0 {
			return fmt.Errorf("logged-out session on the new primary: %d, %v", n, err)
		}
		for _, l := range []interface {
			Load(context.Context, string, store.LoadOptions) (map[string]string, bool, error)
		}{c, nc} {
			if _, found, err := l.Load(ctx, logout, store.LoadOptions{}); err != nil || found {
				return fmt.Errorf("load of the logged-out session: found=%v err=%v", found, err)
			}
			if _, found, err := l.Load(ctx, login, store.LoadOptions{}); err != nil || !found {
				return fmt.Errorf("load of the logged-in session: found=%v err=%v", found, err)
			}
		}
		return nil
	})
	// The near cache follows the new primary over TLS too.
	if err := nc.Ready(readyCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
