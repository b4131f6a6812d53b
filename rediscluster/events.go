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
	wg.Go(func() {
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
	})
	var watchers pubsub.Set[string]
	defer watchers.Stop()
	var failing atomic.Int32 // expired-key subscriptions failing now
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
				c.watchExpired(ctx, byAddr[addr], fn, onErr, &failing)
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

// watchExpired delivers the expired events of one master until ctx ends.
// failing counts it while its subscription fails.
func (c *Cluster) watchExpired(ctx context.Context, m *redis.Client, fn func(store.Event), onErr func(error), failing *atomic.Int32) {
	node := m.Options().Addr
	ps := m.Subscribe(ctx, expiredChannel)
	defer ps.Close()
	down := false
	defer func() {
		if down {
			failing.Add(-1)
		}
	}()
	var probe *keyspace.ExpiryProbe
	pubsub.Receive(ctx, ps, pubsub.WatchQuiet, watchRetry, func(err error) {
		if !down {
			down = true
			failing.Add(1)
		}
		onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
	}, func(msg any) {
		switch msg := msg.(type) {
		case *redis.Subscription:
			if down {
				down = false
				failing.Add(-1)
			}
			// First subscription, or a re-subscription: the node may be a
			// fresh process, or a promoted replica, without the setting.
			err := keyspace.EnableExpiredEvents(ctx, m)
			switch {
			case keyspace.ConfigRefused(err):
				// A managed cluster: the setting may be on all the same.
				// Ask Redis itself, and say so only if it is not.
				if key, ok := c.keyOn(ctx, node); ok {
					probe = keyspace.StartProbe(ctx, m, key, probeWait, func() {
						onErr(fmt.Errorf("events: %w", wrap(node, "", keyspace.ErrExpiredEventsOff)))
					})
				}
			case err != nil:
				onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
			}
		case *redis.Message:
			probe.Expired(msg.Payload)
			if e, ok := keyspace.ParseExpired(c.prefix, msg.Payload); ok {
				e.Shard = node
				fn(e)
			}
		}
	})
}
