package rediscluster

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/internal/pubsub"
	"github.com/shardsession/shardsession/store"
)

// Publish announces e on the events channel, for every Watch on any web
// node to see. Redis Cluster forwards a PUBLISH to every node, so one
// subscription anywhere receives it. Expired events need no publishing:
// Redis emits them.
func (c *Cluster) Publish(ctx context.Context, e store.Event) error {
	return wrap("", "", c.retry(ctx, func(ctx context.Context) error {
		return c.client.Publish(ctx, c.eventChannel(), keyspace.FormatEvent(e)).Err()
	}))
}

// How Watch follows the cluster. Listing the masters costs a CLUSTER
// SLOTS (go-redis reloads its slot table for it), so an idle fleet's Watch
// calls do it rarely: while one of their subscriptions fails (its master
// died, and a replica is being promoted, or was removed), every
// watchReconcile; otherwise every watchRefresh, for masters an operator
// added.
const (
	watchReconcile = time.Second
	watchRefresh   = time.Minute
)

// watchRetry is the pause between attempts to re-subscribe to a node that
// is down: 50 ms, doubling on every failure up to 2 s.
var watchRetry = pubsub.Backoff{Min: 50 * time.Millisecond, Max: 2 * time.Second}

// Watch calls fn for every event until ctx ends, then returns ctx's error.
// Published events (created, renewed, destroyed) arrive on one
// subscription through the cluster client, which moves to another node
// when its node fails. Expired events are node-local: Watch subscribes to
// the expired-key channel of every master, turns expired-key
// notifications on with CONFIG SET on each (re)subscription (see
// keyspace.EnableExpiredEvents; where CONFIG is refused, set
// notify-keyspace-events to include "Ex" in the nodes' configuration:
// Watch then probes each master with a key that expires at once, and
// reports keyspace.ErrExpiredEventsOff to onErr, once per subscription,
// if its expiry is not published), and follows the masters: while a
// subscription fails, every second, a replica promoted by a failover is
// subscribed to and a node that is no longer a master is dropped; a
// master an operator added is subscribed to within a minute. A
// subscription that fails is retried with a backoff of 50 ms doubling to
// 2 s.
//
// fn is called from one goroutine per subscription; it must be quick and
// safe for concurrent use. Event.Shard is the address of the master that
// owns the session's slot. Delivery is Redis Pub/Sub: at most once, and
// events that happen while a subscription is down are lost. onErr, if not
// nil, receives the errors that Watch retries past.
func (c *Cluster) Watch(ctx context.Context, fn func(store.Event), onErr func(error)) error {
	if onErr == nil {
		onErr = func(error) {}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.watchPublished(ctx, fn, onErr) })
	return c.followMasters(ctx, onErr, func(ctx context.Context, m *redis.Client, failing *atomic.Int32) {
		c.watchExpired(ctx, m, fn, onErr, failing)
	})
}

// watchPublished delivers the published events until ctx ends, on one
// subscription through the cluster client, which moves to another node
// when its node fails: Redis Cluster delivers a PUBLISH on every node.
func (c *Cluster) watchPublished(ctx context.Context, fn func(store.Event), onErr func(error)) {
	ps := c.client.Subscribe(ctx, c.eventChannel())
	defer ps.Close()
	pubsub.Receive(ctx, ps, pubsub.WatchQuiet, watchRetry, func(err error) {
		onErr(fmt.Errorf("events: %w", wrap("", "", err)))
	}, func(msg any) {
		if m, ok := msg.(*redis.Message); ok {
			if e, ok := keyspace.ParseEvent(m.Payload); ok {
				e.Shard = c.Locate(e.ID)
				fn(e)
			}
		}
	})
}

// followMasters runs watch for every master, in a goroutine of its own,
// until ctx ends, and follows the masters: while one of the watchers
// reports its subscription failing (failing > 0), every watchReconcile,
// otherwise every watchRefresh, it lists them again (a CLUSTER SLOTS),
// starts a watcher for each new one and stops those of nodes that are
// masters no more.
func (c *Cluster) followMasters(ctx context.Context, onErr func(error), watch func(ctx context.Context, m *redis.Client, failing *atomic.Int32)) error {
	var watchers pubsub.Set[string]
	defer watchers.Stop()
	var failing atomic.Int32
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		listed := time.Now()
		masters, err := c.masters(ctx)
		if err != nil && ctx.Err() == nil {
			onErr(fmt.Errorf("events: list masters: %w", wrap("", "", err)))
		}
		if err == nil {
			byAddr := make(map[string]*redis.Client, len(masters))
			addrs := make([]string, 0, len(masters))
			for _, m := range masters {
				byAddr[m.Options().Addr] = m
				addrs = append(addrs, m.Options().Addr)
			}
			watchers.Sync(ctx, addrs, func(ctx context.Context, addr string) {
				watch(ctx, byAddr[addr], &failing)
			})
		}
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
			if err != nil || failing.Load() > 0 || time.Since(listed) >= watchRefresh {
				break
			}
		}
	}
}

// probeWait is how long Watch waits for the event of its expiry probe
// before it reports that expired-key events are off.
const probeWait = 2 * time.Second

// keyOn returns a probe key whose slot the master at node serves, as the
// client's slot table says.
func (c *Cluster) keyOn(ctx context.Context, node string) (string, bool) {
	for range 10000 { // 3 masters: a few tries; 1,000 masters: about 1,000
		key := keyspace.ProbeKey()
		if m, err := c.client.MasterForKey(ctx, key); err == nil && m.Options().Addr == node {
			return key, true
		}
	}
	return "", false
}

// watchExpired delivers the expired events of one master until ctx ends,
// on a subscription of its own. failing counts it while its subscription
// fails.
func (c *Cluster) watchExpired(ctx context.Context, m *redis.Client, fn func(store.Event), onErr func(error), failing *atomic.Int32) {
	node := m.Options().Addr
	ps := m.Subscribe(ctx, expiredChannel)
	defer ps.Close()
	var down downFlag
	defer down.set(failing, false)
	w := &masterEvents{ctx: ctx, c: c, m: m, fn: fn, onErr: onErr}
	pubsub.Receive(ctx, ps, pubsub.WatchQuiet, watchRetry, func(err error) {
		down.set(failing, true)
		onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
	}, func(msg any) {
		switch msg := msg.(type) {
		case *redis.Subscription:
			down.set(failing, false)
			w.subscribed(msg.Channel)
		case *redis.Message:
			w.message(msg.Channel, msg.Payload)
		}
	})
}

// downFlag is whether one watcher counts itself in followMasters' failing.
type downFlag struct{ down bool }

// set counts the watcher in failing, or no more, once.
func (d *downFlag) set(failing *atomic.Int32, down bool) {
	switch {
	case down && !d.down:
		failing.Add(1)
	case !down && d.down:
		failing.Add(-1)
	}
	d.down = down
}

// masterEvents turns the messages of one master's subscription, on a
// connection of its own (watchExpired) or on a near cache's stream
// (NearCache.Watch), into events.
type masterEvents struct {
	ctx   context.Context
	c     *Cluster
	m     *redis.Client
	only  string // the one channel it handles ("": all); a stream carries others' too
	fn    func(store.Event)
	onErr func(error)

	mu    sync.Mutex
	probe *keyspace.ExpiryProbe
}

// subscribed handles the server's confirmation of a subscription: the
// first, or a re-subscription, when the node may be a fresh process, or a
// promoted replica, without the setting.
func (w *masterEvents) subscribed(channel string) {
	if channel != expiredChannel || w.only != "" && w.only != channel {
		return
	}
	node := w.m.Options().Addr
	err := keyspace.EnableExpiredEvents(w.ctx, w.m)
	switch {
	case keyspace.ConfigRefused(err):
		// A managed cluster: the setting may be on all the same. Ask
		// Redis itself, and say so only if it is not.
		if key, ok := w.c.keyOn(w.ctx, node); ok {
			probe := keyspace.StartProbe(w.ctx, w.m, key, probeWait, func() {
				w.onErr(fmt.Errorf("events: %w", wrap(node, "", keyspace.ErrExpiredEventsOff)))
			})
			w.mu.Lock()
			w.probe = probe
			w.mu.Unlock()
		}
	case err != nil:
		w.onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
	}
}

// message handles one Pub/Sub message: a key expired on this master, or
// (on the connection that carries them) an event published anywhere.
func (w *masterEvents) message(channel, payload string) {
	if w.only != "" && channel != w.only {
		return
	}
	if channel == expiredChannel {
		w.mu.Lock()
		probe := w.probe
		w.mu.Unlock()
		probe.Expired(payload)
		if e, ok := keyspace.ParseExpired(w.c.prefix, payload); ok {
			e.Shard = w.m.Options().Addr
			w.fn(e)
		}
		return
	}
	if e, ok := keyspace.ParseEvent(payload); ok {
		e.Shard = w.c.Locate(e.ID)
		w.fn(e)
	}
}
