package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/shardsession/shardsession/internal/pubsub"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

var _ store.EventPublisher = (*NearCache)(nil)

// Publish announces e on the shard that holds e.ID, as Cluster.Publish.
func (nc *NearCache) Publish(ctx context.Context, e store.Event) error {
	return nc.c.Publish(ctx, e)
}

// Watch calls fn for every event on every shard until ctx ends, as
// Cluster.Watch does, but subscribes on the near cache's tracking
// connections instead of connections of its own: RESP3 lets a connection
// subscribe and run commands, so a node that watches holds one connection
// per primary, not two. A stream quiet for 30 s is checked with a PING (a
// stream that does not answer is reset, and subscribes again when it is
// back). A shard whose server refuses tracking is watched on a
// subscription of its own.
func (nc *NearCache) Watch(ctx context.Context, fn func(store.Event), onErr func(error)) error {
	if onErr == nil {
		onErr = func(error) {}
	}
	return nc.c.watchEach(ctx, func(ctx context.Context, sh *shard.Shard) {
		nc.watchShard(ctx, sh, fn, onErr)
	})
}

// watchShard listens on sh's stream until ctx ends.
func (nc *NearCache) watchShard(ctx context.Context, sh *shard.Shard, fn func(store.Event), onErr func(error)) {
	t := nc.tracker(sh)
	if t == nil {
		return // the cache is closed
	}
	w := &shardEvents{ctx: ctx, c: nc.c, sh: sh, fn: fn, onErr: onErr}
	ls := nc.listeners(sh.Name())
	ls.Add(w)
	t.Subscribe(nc.c.channels()...)
	listening := true
	stop := func() {
		if listening {
			t.Unsubscribe(nc.c.channels()...)
			ls.Remove(w)
			listening = false
		}
	}
	defer stop()
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if nc.Refused(sh.Name()) && !t.Up() {
			stop()
			nc.c.watchShard(ctx, sh, fn, onErr)
			return
		}
		if err := t.CheckQuiet(ctx, pubsub.WatchQuiet); err != nil && ctx.Err() == nil {
			onErr(sh.Wrap(fmt.Errorf("events: %w", err)))
			t.Reset() // it reconnects and subscribes again
		}
	}
}

// listeners returns the Watch calls listening on the stream of the shard
// named name.
func (nc *NearCache) listeners(name string) *pubsub.Listeners[*shardEvents] {
	l, _ := nc.events.LoadOrStore(name, &pubsub.Listeners[*shardEvents]{})
	return l.(*pubsub.Listeners[*shardEvents])
}
