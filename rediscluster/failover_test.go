package rediscluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/store"
)

// SIGKILL the master of a session's slot: the cluster promotes its
// replica, the session saved with WAIT 1 is still there, writes work
// again, and Watch reports expiries on the promoted master, on
// subscriptions of its own and on a near cache's connections alike.
func TestFailover(t *testing.T) {
	c, rc := clustertest.NewRedisCluster(t, redistest.RedisClusterOptions{Masters: 3, Replicas: 1},
		rediscluster.Options{Durability: rediscluster.Durability{SaveReplicas: 1, Timeout: time.Second}})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	if _, err := c.Save(ctx, "f", store.Write{Mode: store.Create, Set: map[string][]byte{"v:user": []byte("ada")}, ExpireAt: exp}); err != nil {
		t.Fatalf("Save with WAIT 1: %v", err)
	}

	nc, err := rediscluster.NewNearCache(c, rediscluster.NearCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	wctx, stopWatch := context.WithCancel(ctx)
	var mu sync.Mutex
	expired := map[string]map[string]string{"own": {}, "near cache": {}} // watch → ID → master that reported it
	var wg sync.WaitGroup
	for name, watch := range map[string]func(context.Context, func(store.Event), func(error)) error{"own": c.Watch, "near cache": nc.Watch} {
		wg.Go(func() {
			_ = watch(wctx, func(e store.Event) {
				if e.Kind == store.Expired {
					mu.Lock()
					expired[name][e.ID] = e.Shard
					mu.Unlock()
				}
			}, nil)
		})
	}
	defer func() { stopWatch(); wg.Wait() }()

	old, err := rc.MasterForKey(ctx, c.Key("f"))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Before the promotion the slot has no master: loads fail closed,
	// with ErrUnavailable, never "no session".
	lctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if _, found, err := c.Load(lctx, "f", store.LoadOptions{}); !errors.Is(err, store.ErrUnavailable) || found {
		t.Errorf("Load with the master down = found %v, %v; want ErrUnavailable", found, err)
	}
	cancel()
	var promoted *redistest.Server
	redistest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if err := rc.WaitOK(ctx); err != nil {
			return err
		}
		m, err := rc.MasterForKey(ctx, c.Key("f"))
		if err != nil {
			return err
		}
		if m == old {
			return fmt.Errorf("slot still owned by the killed %s", old.Name)
		}
		promoted = m
		return nil
	})
	t.Logf("%s promoted %v after the kill", promoted.Name, time.Since(start).Round(10*time.Millisecond))

	// Until the client reaches the promoted master, loads fail closed too.
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		fields, found, err := c.Load(ctx, "f", store.LoadOptions{})
		if err != nil {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("Load during the failover = %v, want ErrUnavailable", err)
			}
			return err
		}
		if !found || fields["v:user"] != "ada" {
			t.Errorf("session after failover: %v, found %v", fields, found)
		}
		return nil
	})
	// The promoted master has no replica left (its old master is dead):
	// the write lands, and says that no replica confirmed it.
	if v, err := c.Save(ctx, "f", store.Write{Mode: store.Update, Set: map[string][]byte{"v:user": []byte("grace")}, ExpireAt: exp}); v != 2 || !errors.Is(err, store.ErrNotReplicated) {
		t.Fatalf("write on the promoted master = %d, %v; want 2, ErrNotReplicated", v, err)
	}
	if fields, _, err := c.Load(ctx, "f", store.LoadOptions{}); err != nil || fields["v:user"] != "grace" {
		t.Fatalf("Load after the write = %v, %v", fields, err)
	}
	if c.Locate("f") != promoted.Addr() {
		t.Fatalf("Locate = %s, want the promoted %s", c.Locate("f"), promoted.Addr())
	}

	// Watch has followed the new master: a key of its slots expiring there
	// is reported by it.
	short := ""
	for i := 0; c.Locate(short) != promoted.Addr(); i++ {
		short = fmt.Sprint("short", i)
	}
	redistest.Eventually(t, 15*time.Second, func(ctx context.Context) error {
		_, err := c.Save(ctx, short, store.Write{Mode: store.Create, ExpireAt: time.Now().Add(50 * time.Millisecond)})
		if err != nil && !errors.Is(err, store.ErrNotReplicated) {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for name, seen := range expired {
			if seen[short] != promoted.Addr() {
				return fmt.Errorf("no expiry reported by %s to the %s watch yet", promoted.Name, name)
			}
		}
		return nil
	})
}
