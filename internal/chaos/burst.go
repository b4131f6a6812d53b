package chaos

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

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
func prepareBurst(ctx context.Context, env Env, c Client, s Scenario) (*logoutBurst, error) {
	b := &logoutBurst{}
	for range s.Logouts {
		id, err := idOn(c, s.Shard)
		if err != nil {
			return nil, err
		}
		if _, err := c.Save(ctx, id, probeWrite(store.Create)); err != nil && !errors.Is(err, store.ErrNotReplicated) {
			return nil, fmt.Errorf("chaos: burst session: %w", err)
		}
		b.ids = append(b.ids, id)
	}
	for _, r := range env.Replicas(s.Shard) {
		if err := caughtUp(ctx, env.Primary(s.Shard), r); err != nil {
			return nil, fmt.Errorf("chaos: burst sessions on the replicas: %w", err)
		}
	}
	return b, nil
}

// caughtUp polls until replica has applied everything primary had written
// when it was called. It reads replication offsets, not keys, so that it
// works alike on a Sentinel shard and on a Redis Cluster, whose replicas
// answer MOVED about keys.
func caughtUp(ctx context.Context, primary, replica Node) error {
	pc, rc := primary.Client(), replica.Client()
	defer pc.Close()
	defer rc.Close()
	want, err := replOffset(ctx, pc, "master_repl_offset")
	if err != nil {
		return err
	}
	return redistest.Poll(ctx, func(ctx context.Context) error {
		got, err := replOffset(ctx, rc, "slave_repl_offset")
		if err == nil && got < want {
			err = fmt.Errorf("replica %s at offset %d of %d", replica.Addr(), got, want)
		}
		return err
	})
}

// replOffset reads field, an offset of INFO replication.
func replOffset(ctx context.Context, c *redis.Client, field string) (int64, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in INFO replication", field)
}

// run logs the sessions out from several goroutines and kills the primary
// once half of the logouts were acknowledged, or once every logout was
// tried (with a frozen replica, a delete that waits for it is never
// confirmed).
func (b *logoutBurst) run(ctx context.Context, env Env, s Scenario) error {
	replica := env.Replicas(s.Shard)[0]
	if s.LagReplica {
		if err := LagReplica(ctx, env.Primary(s.Shard), replica); err != nil {
			return err
		}
	}
	c, err := env.Open(burstOptions(s))
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
	tried := make(chan struct{})
	go func() { wg.Wait(); close(tried) }()
	select {
	case <-half:
	case <-tried:
	case <-ctx.Done():
	}
	err = env.Primary(s.Shard).Kill()
	if s.LagReplica {
		if rerr := replica.Resume(); err == nil {
			err = rerr
		}
	}
	<-tried
	return err
}

// burstOptions are the burst client's: plain deletes with the backend's
// default protection, or none.
func burstOptions(s Scenario) ClientOptions {
	if s.Unprotected {
		return ClientOptions{DeleteReplicas: -1}
	}
	return ClientOptions{}
}

func (b *logoutBurst) acked() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ok...)
}
