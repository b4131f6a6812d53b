package rediscluster

import (
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// batch sends a command alone when no other is in flight through it, and
// through the cluster client's auto-pipeliner (go-redis AutoPipeline, which
// groups the queued commands by master) when others are: concurrent
// requests share round trips, a lone one pays nothing for the pipeliner's
// wait for company. The same rule as package cluster's, over the whole
// cluster rather than per primary.
type batch struct {
	client   *redis.ClusterClient
	ap       *redis.AutoPipeliner // nil when go-redis cannot make one
	inflight atomic.Int64
}

func newBatch(client *redis.ClusterClient) *batch {
	ap, err := client.AutoPipeline()
	if err != nil {
		ap = nil
	}
	return &batch{client: client, ap: ap}
}

// via returns what one command is sent through, and a func to call once
// its reply is in.
func (b *batch) via() (redis.Cmdable, func()) {
	if b.ap == nil {
		return b.client, func() {}
	}
	if b.inflight.Add(1) == 1 {
		return b.client, b.done
	}
	return b.ap, b.done
}

func (b *batch) done() { b.inflight.Add(-1) }
