package rediscluster

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// batch sends a command alone when no other is in flight to the same
// master, and through that master's auto-pipeliner (go-redis
// AutoPipeline) when others are: concurrent requests share round trips, a
// lone one pays nothing for the pipeliner's wait for company. The same
// rule as package cluster's per primary.
//
// Why a pipeliner per master, on the master's own client: the cluster
// client's auto-pipeliner queues commands by slot range into a few ordered
// queues that masters share, so a batch stuck on a master that died (a dial
// that times out, a read that waits out ReadTimeout) held up the commands
// of other masters queued behind it, for seconds; one master down must not
// slow the others. A master's client does not follow redirections: a
// command it gets MOVED or ASK for is sent again by retryKey, and a retry
// goes through the cluster client, which follows them.
type batch struct {
	client   *redis.ClusterClient
	inflight sync.Map // *redis.Client (a master's) → *atomic.Int64
}

func newBatch(client *redis.ClusterClient) *batch {
	return &batch{client: client}
}

// via returns what one command about key is sent through, and a func to
// call once its reply is in.
func (b *batch) via(ctx context.Context, key string) (redis.Cmdable, func()) {
	if retrying(ctx) {
		return b.client, func() {}
	}
	m, err := b.client.MasterForKey(ctx, key)
	if err != nil {
		return b.client, func() {} // the cluster client reports the error
	}
	n, _ := b.inflight.LoadOrStore(m, new(atomic.Int64))
	inflight := n.(*atomic.Int64)
	done := func() { inflight.Add(-1) }
	if inflight.Add(1) == 1 {
		return b.client, done
	}
	ap, err := m.AutoPipeline() // made on first use, then the same
	if err != nil {
		return b.client, done
	}
	return ap, done
}

// retryingKey marks the context of a retryKey attempt after the first.
type retryingKey struct{}

// retrying reports whether ctx is that of a retry.
func retrying(ctx context.Context) bool { return ctx.Value(retryingKey{}) != nil }
