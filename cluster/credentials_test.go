package cluster_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/session"
	"github.com/shardsession/shardsession/store"
)

// failures records the failed requests of a load, with when they started.
type failures struct {
	mu   sync.Mutex
	errs []error
	at   []time.Time
}

func (f *failures) add(start time.Time, err error) {
	f.mu.Lock()
	f.errs, f.at = append(f.errs, err), append(f.at, start)
	f.mu.Unlock()
}

// since returns the failures of requests started from t on.
func (f *failures) since(t time.Time) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []error
	for i, at := range f.at {
		if !at.Before(t) {
			out = append(out, f.errs[i])
		}
	}
	return out
}

// The password of the ACL user a fleet logs in as is rotated on every node
// (the new one added, the clients' credentials provider switched, the old
// one removed, every connection of the user killed) while two web nodes,
// each a Cluster with a near cache and an event watcher, and a Manager keep
// serving: every new connection — pools, tracking streams, Pub/Sub —
// authenticates with the new password, and no request fails once they are
// back.
func TestCredentialsRotation(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	var servers []*redistest.Server
	for _, s := range top.Shards {
		servers = append(servers, s.Primary)
		servers = append(servers, s.Replicas...)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	onEveryNode := func(args ...any) {
		t.Helper()
		for _, s := range servers {
			c := s.Client()
			err := c.Do(ctx, args...).Err()
			c.Close()
			if err != nil {
				t.Fatalf("%s: %v: %v", s.Name, args, err)
			}
		}
	}
	onEveryNode("ACL", "SETUSER", "app", "on", ">old", "~*", "&*", "+@all")
	var password atomic.Value
	password.Store("old")
	var asked atomic.Int64
	provider := func(context.Context) (string, string, error) {
		asked.Add(1)
		return "app", password.Load().(string), nil
	}

	type node struct {
		c      *cluster.Cluster
		nc     *cluster.NearCache
		events atomic.Int64
	}
	nodes := make([]*node, 2)
	for i := range nodes {
		opts := clustertest.ShardOptions(top)
		for j := range opts {
			opts[j].Client = &redis.Options{CredentialsProviderContext: provider,
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
		n := &node{c: c, nc: nc}
		nodes[i] = n
		go c.Watch(ctx, func(store.Event) { n.events.Add(1) }, nil)
	}
	ready := func() {
		t.Helper()
		for _, n := range nodes {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := n.nc.Ready(rctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	ready()
	m := session.New(nodes[0].nc)
	m.Cookie.Name, m.Cookie.Secure = "session", false

	// The load: each node logs sessions in and out through its near cache,
	// the other node reads them, events are published; the Manager does
	// the same through its own API.
	var failed failures
	var requests atomic.Int64
	call := func(start time.Time, err error) {
		requests.Add(1)
		if err != nil && ctx.Err() == nil {
			failed.add(start, err)
		}
	}
	var wg sync.WaitGroup
	for i, n := range nodes {
		other := nodes[1-i]
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				rctx, cancel := context.WithTimeout(ctx, time.Second)
				start := time.Now()
				call := func(err error) { call(start, err) }
				id := fmt.Sprintf("node%d-%d", i, k)
				_, err := n.nc.Save(rctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"user": []byte("ada")}, ExpireAt: time.Now().Add(time.Minute)})
				call(err)
				call(n.c.Publish(rctx, store.Event{Kind: store.Created, ID: id}))
				_, found, err := other.nc.Load(rctx, id, store.LoadOptions{})
				if err == nil && !found {
					err = fmt.Errorf("%s not found by the other node", id)
				}
				call(err)
				call(n.nc.Delete(rctx, id))
				cancel()
			}
		})
	}
	wg.Go(func() {
		for ctx.Err() == nil {
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			start := time.Now()
			call := func(err error) { call(start, err) }
			sctx, err := m.Load(rctx, "")
			call(err)
			if err == nil {
				m.Put(sctx, "user", "ada")
				token, _, err := m.Commit(sctx)
				call(err)
				if err == nil {
					sctx, err := m.Load(rctx, token)
					call(err)
					if err == nil {
						call(m.Destroy(sctx))
					}
				}
			}
			cancel()
		}
	})
	defer func() { stop(); wg.Wait() }()

	waitRequests := func(n int64) {
		t.Helper()
		from := requests.Load()
		redistest.Eventually(t, 10*time.Second, func(context.Context) error {
			if got := requests.Load() - from; got < n {
				return fmt.Errorf("%d requests so far", got)
			}
			return nil
		})
	}
	waitRequests(200)

	// Rotate: both passwords valid, the provider switched, the old one
	// gone, every connection of the user closed so that all are made anew.
	onEveryNode("ACL", "SETUSER", "app", ">new")
	password.Store("new")
	askedBefore := asked.Load()
	onEveryNode("ACL", "SETUSER", "app", "<old")
	flushes := make([]uint64, len(nodes))
	for i, n := range nodes {
		flushes[i] = n.nc.Stats().Flushes
	}
	rotated := time.Now()
	onEveryNode("CLIENT", "KILL", "USER", "app")
	// Each near cache sees its tracking streams drop (a flush each), then
	// comes back.
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		for i, n := range nodes {
			if got := n.nc.Stats().Flushes - flushes[i]; got < uint64(len(top.Shards)) {
				return fmt.Errorf("node %d: %d streams seen dropped", i, got)
			}
		}
		return nil
	})
	ready()
	settled := time.Now()
	eventsAtSettle := nodes[0].events.Load() + nodes[1].events.Load()
	waitRequests(500)
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		if n := nodes[0].events.Load() + nodes[1].events.Load(); n <= eventsAtSettle {
			return fmt.Errorf("no event received since the rotation")
		}
		return nil
	})
	if errs := failed.since(settled); len(errs) > 0 {
		t.Errorf("%d requests failed after the rotation settled, first: %v", len(errs), errs[0])
	}
	t.Logf("%d requests; %d failed before the kill, %d while the connections were remade; settled %v after the kill",
		requests.Load(), len(failed.since(time.Time{}))-len(failed.since(rotated)), len(failed.since(rotated))-len(failed.since(settled)),
		settled.Sub(rotated).Round(time.Millisecond))
	if asked.Load() == askedBefore {
		t.Error("the credentials provider was not asked after the rotation")
	}
	// Every kind of connection came back as app with the new password.
	for _, s := range top.Shards {
		c := s.Primary.Client()
		list, err := c.ClientList(context.Background()).Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		tracking, subscribed := 0, 0
		for _, line := range strings.Split(list, "\n") {
			if !strings.Contains(line, " user=app ") {
				continue
			}
			if strings.Contains(line, " name=shardsession-tracking ") {
				tracking++
			}
			if strings.Contains(line, " sub=") && !strings.Contains(line, " sub=0 ") {
				subscribed++
			}
		}
		if tracking < len(nodes) || subscribed < len(nodes) {
			t.Errorf("%s: %d tracking and %d subscribed connections of app, want %d each:\n%s", s.Name, tracking, subscribed, len(nodes), list)
		}
	}
	stop()
	wg.Wait()
	old := redis.NewClient(&redis.Options{Addr: top.Shards[0].Primary.Addr(), Username: "app", Password: "old", DisableIdentity: true})
	defer old.Close()
	if err := old.Ping(context.Background()).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("the old password still works: PING = %v", err)
	}
}
