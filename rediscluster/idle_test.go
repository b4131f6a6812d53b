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
	const quiet = 5 // seconds without a command on any connection
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
