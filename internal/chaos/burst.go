package chaos

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/store"
)

// The logout burst of the LogoutThenKill scenarios: logouts in flight
// when the primary dies.

// logoutBurst is the LogoutThenKill scenario's sessions.
type logoutBurst struct {
	ids []string
	mu  sync.Mutex
	ok  []string
}

// prepareBurst creates the sessions to log out and waits until the
// shard's replicas have them.
func prepareBurst(ctx context.Context, env Env, c *cluster.Cluster, s Scenario) (*logoutBurst, error) {
	b := &logoutBurst{}
	keys := make([]string, 0, s.Logouts)
	for range s.Logouts {
		id := idOn(c, s.Shard)
		if _, err := c.Save(ctx, id, probeWrite(store.Create)); err != nil && !errors.Is(err, store.ErrNotReplicated) {
			return nil, fmt.Errorf("chaos: burst session: %w", err)
		}
		b.ids = append(b.ids, id)
		keys = append(keys, c.Key(id))
	}
	for _, r := range env.Replicas(s.Shard) {
		rc := r.Client()
		err := redistest.Poll(ctx, func(ctx context.Context) error {
			n, err := rc.Exists(ctx, keys...).Result()
			if err == nil && n != int64(len(keys)) {
				err = fmt.Errorf("replica %s has %d of %d burst sessions", r.Addr(), n, len(keys))
			}
			return err
		})
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// run logs the sessions out from several goroutines and kills the primary
// once half of the logouts were acknowledged.
func (b *logoutBurst) run(ctx context.Context, env Env, s Scenario) error {
	replica := env.Replicas(s.Shard)[0]
	if s.LagReplica {
		if err := LagReplica(ctx, env.Primary(s.Shard), replica); err != nil {
			return err
		}
	}
	c, err := cluster.New(cluster.Options{Shards: clustertest.SentinelShards(env.Shards(), env.SentinelAddrs()), Durability: burstDurability(s)})
	if err != nil {
		return err
	}
	defer c.Close()
	var next, acked atomic.Int64
	half := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(b.ids)); i = next.Add(1) - 1 {
				if c.Delete(ctx, b.ids[i]) == nil {
					b.mu.Lock()
					b.ok = append(b.ok, b.ids[i])
					b.mu.Unlock()
					if acked.Add(1) >= int64(len(b.ids)/2) {
						once.Do(func() { close(half) })
					}
				}
			}
		})
	}
	select {
	case <-half:
	case <-ctx.Done():
	}
	err = env.Primary(s.Shard).Kill()
	if s.LagReplica {
		if rerr := replica.Resume(); err == nil {
			err = rerr
		}
	}
	wg.Wait()
	return err
}

func burstDurability(s Scenario) cluster.Durability {
	if s.Unprotected {
		return cluster.Durability{DeleteReplicas: -1}
	}
	return cluster.Durability{}
}

func (b *logoutBurst) acked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ok...)
}
