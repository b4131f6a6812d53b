package rediscluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/pubsub"
	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/store"
)

var _ store.EventPublisher = (*NearCache)(nil)

// Publish announces e, as Cluster.Publish does.
func (nc *NearCache) Publish(ctx context.Context, e store.Event) error {
	return nc.c.Publish(ctx, e)
}

// Watch calls fn for every event until ctx ends, as Cluster.Watch does,
// but on the near cache's tracking connections instead of subscriptions of
// its own (RESP3 lets a connection subscribe and run commands), so a node
// that watches holds one connection per master besides its pool, not two:
// each master's connection carries the master's expired-key
// notifications, and the connection of the master that owns the events
// channel's slot carries the published events too (Redis Cluster delivers
// a PUBLISH on every node, so one subscription hears them all). A
// connection quiet for 30 s is checked with a PING (one that does not
// answer is reset, and subscribes again when it is back). A master whose
// server refuses tracking is watched on a subscription of its own. The
// masters are followed as Cluster.Watch follows them.
func (nc *NearCache) Watch(ctx context.Context, fn func(store.Event), onErr func(error)) error {
	if onErr == nil {
		onErr = func(error) {}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { nc.carryPublished(ctx, fn, onErr) })
	return nc.c.followMasters(ctx, onErr, func(ctx context.Context, m *redis.Client, failing *atomic.Int32) {
		nc.watchExpired(ctx, m, fn, onErr, failing)
	})
}

// listeners returns the Watch calls listening on the stream of the master
// at addr.
func (nc *NearCache) listeners(addr string) *pubsub.Listeners[*masterEvents] {
	l, _ := nc.events.LoadOrStore(addr, &pubsub.Listeners[*masterEvents]{})
	return l.(*pubsub.Listeners[*masterEvents])
}

// listen subscribes w to channel on the stream of w's master, until the
// returned func is called.
func (nc *NearCache) listen(t *tracking.Stream, w *masterEvents, channel string) (stop func()) {
	ls := nc.listeners(w.m.Options().Addr)
	ls.Add(w)
	t.Subscribe(channel)
	return func() {
		t.Unsubscribe(channel)
		ls.Remove(w)
	}
}

// watchExpired delivers the expired events of master m from its stream
// until ctx ends, counting itself in failing while the stream is down.
func (nc *NearCache) watchExpired(ctx context.Context, m *redis.Client, fn func(store.Event), onErr func(error), failing *atomic.Int32) {
	addr := m.Options().Addr
	w := &masterEvents{ctx: ctx, c: nc.c, m: m, only: expiredChannel, fn: fn, onErr: onErr}
	var t *tracking.Stream
	stop := func() {}
	defer func() { stop() }()
	var down downFlag
	defer down.set(failing, false)
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		if nc.Refused(addr) && (t == nil || !t.Up()) {
			stop()
			down.set(failing, false)
			nc.c.watchExpired(ctx, m, fn, onErr, failing)
			return
		}
		// The stream of a master down for a while is dropped (sweep); a
		// master back at the address gets a new one.
		if cur := nc.tracker(ctx, m); cur == nil {
			return // the cache is closed
		} else if cur != t {
			stop()
			t, stop = cur, nc.listen(cur, w, expiredChannel)
		}
		down.set(failing, !t.Up())
		if err := t.CheckQuiet(ctx, pubsub.WatchQuiet); err != nil && ctx.Err() == nil {
			onErr(fmt.Errorf("events: %w", wrap(addr, "", err)))
			t.Reset() // it reconnects and subscribes again
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// carryPublished delivers the published events until ctx ends, from the
// stream of the master that owns the events channel's slot as the
// client's slot table says, moving to another master's stream when that
// changes; one stream at a time, so that each event is delivered once.
// Where that master refuses tracking, it subscribes on a connection of its
// own (Cluster.watchPublished).
func (nc *NearCache) carryPublished(ctx context.Context, fn func(store.Event), onErr func(error)) {
	channel := nc.c.eventChannel()
	var t *tracking.Stream
	stop := func() {}
	defer func() { stop() }()
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		if m, err := nc.c.client.MasterForKey(ctx, channel); err == nil {
			addr := m.Options().Addr
			if nc.Refused(addr) {
				stop()
				nc.c.watchPublished(ctx, fn, onErr)
				return
			}
			if cur := nc.tracker(ctx, m); cur == nil {
				return // the cache is closed
			} else if cur != t {
				stop()
				w := &masterEvents{ctx: ctx, c: nc.c, m: m, only: channel, fn: fn, onErr: onErr}
				t, stop = cur, nc.listen(cur, w, channel)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
