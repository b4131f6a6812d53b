package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/internal/pubsub"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// Publish announces e on the shard that holds e.ID, for every Watch on any
// node to see. Expired events need no publishing: Redis emits them.
func (c *Cluster) Publish(ctx context.Context, e store.Event) error {
	sh := c.ShardFor(e.ID)
	return sh.Wrap(sh.Primary().Publish(ctx, c.eventChannel(), keyspace.FormatEvent(e)).Err())
}

// ensureKeyspaceEvents turns on expired-key events on sh's primary (see
// keyspace.EnableExpiredEvents).
func ensureKeyspaceEvents(ctx context.Context, sh *shard.Shard) error {
	return sh.Wrap(keyspace.EnableExpiredEvents(ctx, sh.Primary()))
}

// Watch calls fn for every event on every shard until ctx ends, then returns
// ctx's error. It subscribes to each primary (one connection per shard),
// re-subscribes after the connection drops (restart, failover), turns on
// expired-key notifications on each (re)subscription (see
// ensureKeyspaceEvents; where CONFIG is refused, it probes the primary with
// a key that expires at once and reports an error naming
// notify-keyspace-events, once per subscription, only if its expiry is not
// published) and follows shards added or removed by a topology change. fn is called from one goroutine per shard; it must be quick and
// safe for concurrent use. Delivery is Redis Pub/Sub: at most once, and
// events that happen while a shard's subscription is down are lost.
// onErr, if not nil, receives errors that Watch retries past.
func (c *Cluster) Watch(ctx context.Context, fn func(store.Event), onErr func(error)) error {
	if onErr == nil {
		onErr = func(error) {}
	}
	return c.watchEach(ctx, func(ctx context.Context, sh *shard.Shard) {
		c.watchShard(ctx, sh, fn, onErr)
	})
}

// watchEach runs watch for every shard, in a goroutine of its own, until
// ctx ends, following the topology: a watcher starts for each new shard,
// and the watchers of shards gone are stopped.
func (c *Cluster) watchEach(ctx context.Context, watch func(ctx context.Context, sh *shard.Shard)) error {
	var watchers pubsub.Set[*shard.Shard]
	defer watchers.Stop()
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		watchers.Sync(ctx, c.Shards(), watch)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// watchReconcile is how often Watch looks for shards added or removed.
const watchReconcile = time.Second

// probeWait is how long Watch waits for the event of its expiry probe
// before it reports that expired-key events are off.
const probeWait = 2 * time.Second

// watchRetry bounds the pause between attempts to reach a shard that is down.
const watchRetry = 200 * time.Millisecond

// watchShard subscribes to one primary until ctx ends.
func (c *Cluster) watchShard(ctx context.Context, sh *shard.Shard, fn func(store.Event), onErr func(error)) {
	ps := sh.Primary().Subscribe(ctx, c.channels()...)
	defer ps.Close()
	retry := pubsub.Backoff{Min: watchRetry, Max: watchRetry}
	w := &shardEvents{ctx: ctx, c: c, sh: sh, fn: fn, onErr: onErr}
	pubsub.Receive(ctx, ps, pubsub.WatchQuiet, retry, func(err error) {
		onErr(sh.Wrap(fmt.Errorf("events: %w", err)))
	}, func(msg any) {
		switch msg := msg.(type) {
		case *redis.Subscription:
			w.subscribed(msg.Channel)
		case *redis.Message:
			w.message(msg.Channel, msg.Payload)
		}
	})
}

// channels are the Pub/Sub channels a Watch subscribes to on each primary.
func (c *Cluster) channels() []string { return []string{c.eventChannel(), expiredChannel} }

// shardEvents turns the messages of one primary's subscription, on a
// connection of its own (watchShard) or on a near cache's stream
// (NearCache.Watch), into events.
type shardEvents struct {
	ctx   context.Context
	c     *Cluster
	sh    *shard.Shard
	fn    func(store.Event)
	onErr func(error)

	mu    sync.Mutex
	probe *keyspace.ExpiryProbe
}

// subscribed handles the server's confirmation of a subscription: the
// first, or one after a reconnection, when the primary may be a fresh
// process that lost CONFIG SET.
func (w *shardEvents) subscribed(channel string) {
	if channel != expiredChannel {
		return
	}
	err := ensureKeyspaceEvents(w.ctx, w.sh)
	switch {
	case keyspace.ConfigRefused(err):
		// A managed server: the setting may be on all the same. Ask
		// Redis itself, and say so only if it is not.
		probe := keyspace.StartProbe(w.ctx, w.sh.Primary(), keyspace.ProbeKey(), probeWait, func() {
			w.onErr(w.sh.Wrap(fmt.Errorf("events: %w", keyspace.ErrExpiredEventsOff)))
		})
		w.mu.Lock()
		w.probe = probe
		w.mu.Unlock()
	case err != nil:
		w.onErr(fmt.Errorf("events: %w", err))
	}
}

// message handles one Pub/Sub message.
func (w *shardEvents) message(channel, payload string) {
	if channel == expiredChannel {
		w.mu.Lock()
		probe := w.probe
		w.mu.Unlock()
		probe.Expired(payload)
	}
	if e, ok := w.c.parseEvent(channel, payload); ok {
		e.Shard = w.sh.Name()
		w.fn(e)
	}
}

// parseEvent turns a Pub/Sub message into an Event; ok is false for
// messages that are not about sessions of this cluster.
func (c *Cluster) parseEvent(channel, payload string) (e store.Event, ok bool) {
	if channel == expiredChannel {
		return keyspace.ParseExpired(c.prefix, payload)
	}
	return ParseEvent(payload)
}

// ParseEvent parses the payload Publish sends: "kind id [oldID]".
func ParseEvent(payload string) (store.Event, bool) { return keyspace.ParseEvent(payload) }
