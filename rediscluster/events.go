package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/keyspace"
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

// How Watch follows the cluster.
const (
	// watchReconcile is how often Watch looks for masters that appeared
	// (a promoted replica, a node added by an operator) or went away.
	watchReconcile = time.Second
	// watchRetryMin and watchRetryMax bound the pause between attempts to
	// re-subscribe to a node that is down; it doubles on every failure.
	watchRetryMin = 50 * time.Millisecond
	watchRetryMax = 2 * time.Second
	// watchPing is how long a subscription may stay quiet before Watch
	// checks it with a PING.
	watchPing = 2 * time.Second
)

// Watch calls fn for every event until ctx ends, then returns ctx's error.
// Published events (created, renewed, destroyed) arrive on one
// subscription through the cluster client, which moves to another node
// when its node fails. Expired events are node-local: Watch subscribes to
// the expired-key channel of every master, turns expired-key
// notifications on with CONFIG SET on each (re)subscription (see
// keyspace.EnableExpiredEvents; where CONFIG is refused, set
// notify-keyspace-events to include "Ex" in the nodes' configuration), and
// every second follows the client's slot table: a replica promoted by a
// failover is subscribed to, a node that is no longer a master is
// dropped. A subscription that fails is retried with a backoff of 50 ms
// doubling to 2 s.
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
		c.receive(ctx, ps, "events", onErr, func(msg *redis.Message) {
			if e, ok := keyspace.ParseEvent(msg.Payload); ok {
				e.Shard = c.Locate(e.ID)
				fn(e)
			}
		}, nil)
	})
	running := map[string]context.CancelFunc{}
	defer func() {
		for _, cancel := range running {
			cancel()
		}
	}()
	tick := time.NewTicker(watchReconcile)
	defer tick.Stop()
	for {
		masters, err := c.masters(ctx)
		if err != nil && ctx.Err() == nil {
			onErr(fmt.Errorf("events: list masters: %w", wrap("", "", err)))
		}
		current := map[string]bool{}
		for _, m := range masters {
			addr := m.Options().Addr
			current[addr] = true
			if _, ok := running[addr]; ok {
				continue
			}
			mctx, cancel := context.WithCancel(ctx)
			running[addr] = cancel
			wg.Go(func() { c.watchExpired(mctx, m, fn, onErr) })
		}
		if err == nil {
			for addr, cancel := range running {
				if !current[addr] {
					cancel()
					delete(running, addr)
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			c.client.ReloadState(ctx)
		}
	}
}

// watchExpired delivers the expired events of one master until ctx ends.
func (c *Cluster) watchExpired(ctx context.Context, m *redis.Client, fn func(store.Event), onErr func(error)) {
	node := m.Options().Addr
	ps := m.Subscribe(ctx, expiredChannel)
	defer ps.Close()
	c.receive(ctx, ps, node, onErr, func(msg *redis.Message) {
		if e, ok := keyspace.ParseExpired(c.prefix, msg.Payload); ok {
			e.Shard = node
			fn(e)
		}
	}, func() {
		if err := keyspace.EnableExpiredEvents(ctx, m); err != nil {
			onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
		}
	})
}

// receive reads ps until ctx ends, calling handle for each message and
// subscribed (if not nil) after each (re)subscription. A quiet connection
// is checked with PING; a failed one is reported to onErr and retried
// (go-redis re-dials and re-subscribes on the next receive) after a
// backoff.
func (c *Cluster) receive(ctx context.Context, ps *redis.PubSub, node string, onErr func(error), handle func(*redis.Message), subscribed func()) {
	backoff := watchRetryMin
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, watchPing)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			onErr(fmt.Errorf("events: %w", wrap(node, "", err)))
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			backoff = min(2*backoff, watchRetryMax)
			continue
		}
		backoff = watchRetryMin
		switch msg := msg.(type) {
		case *redis.Subscription:
			if subscribed != nil {
				subscribed()
			}
		case *redis.Message:
			handle(msg)
		}
	}
}
