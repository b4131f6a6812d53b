package rediscluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/store"
)

// A Cluster reading from replicas, with the revocation journal on, sends
// nothing while it has no requests: no health checks, no polling of the
// roles. After a burst of traffic on every master, each connection of its
// own on every node (told apart by client name) goes idle.
func TestIdleSendsNothing(t *testing.T) {
	name := fmt.Sprintf("idle-%d", time.Now().UnixNano())
	c := newCluster(t, Options{ReadPolicy: replica.ReplicaPreferred, Client: &redis.ClusterOptions{ClientName: name}})
	ctx := context.Background()
	for _, ids := range idsOnEveryMaster(t, c, 20) {
		for _, id := range ids {
			v, err := c.Save(ctx, id, store.Write{Mode: store.Create, ExpireAt: time.Now().Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.Load(ctx, id, store.LoadOptions{MinVersion: v}); err != nil {
				t.Fatal(err)
			}
			if err := c.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitIdle(t, name, 5)
}

// An idle Watch sends nothing but its subscriptions' checks (a PING after
// 30 s of quiet): it lists the masters (a CLUSTER SLOTS) only while a
// subscription fails, or once a minute.
func TestIdleWatchSendsNothing(t *testing.T) {
	name := fmt.Sprintf("idle-watch-%d", time.Now().UnixNano())
	c := newCluster(t, Options{Client: &redis.ClusterOptions{ClientName: name}})
	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- c.Watch(ctx, func(store.Event) {
			select {
			case heard <- struct{}{}:
			default:
			}
		}, nil)
	}()
	defer func() { cancel(); <-done }()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if err := c.Publish(ctx, store.Event{Kind: store.Created, ID: "x"}); err != nil {
			return err
		}
		select {
		case <-heard:
			return nil
		case <-time.After(100 * time.Millisecond):
			return fmt.Errorf("no event heard yet")
		}
	})
	waitIdle(t, name, 5)
}

// waitIdle waits until every connection named name on the cluster's nodes
// has been idle for quiet seconds (and there is at least one).
func waitIdle(t *testing.T, name string, quiet int) {
	t.Helper()
	start := time.Now()
	redistest.Eventually(t, 20*time.Second, func(ctx context.Context) error {
		conns := 0
		for _, s := range shared.Nodes {
			nc := s.Client()
			list, err := nc.ClientList(ctx).Result()
			nc.Close()
			if err != nil {
				return err
			}
			for _, line := range strings.Split(list, "\n") {
				if !strings.Contains(line, " name="+name+" ") {
					continue
				}
				conns++
				for _, f := range strings.Fields(line) {
					if v, ok := strings.CutPrefix(f, "idle="); ok {
						if n, _ := strconv.Atoi(v); n < quiet {
							return fmt.Errorf("%s: a connection ran a command %d s ago: %s", s.Name, n, line)
						}
					}
				}
			}
		}
		if conns == 0 {
			return fmt.Errorf("no connection named %s", name)
		}
		t.Logf("%d connections on %d nodes, none used for %d s, %v after the burst", conns, len(shared.Nodes), quiet, time.Since(start).Round(100*time.Millisecond))
		return nil
	})
}
