package session

import (
	"context"
	"fmt"
)

// publish announces e if PublishEvents is set. Events are best effort: a
// failure is logged, never returned, since the change itself was saved.
func (m *Manager) publish(ctx context.Context, e Event) {
	if !m.PublishEvents {
		return
	}
	es, ok := storeAs[EventStore](m.Store)
	if !ok {
		return
	}
	if err := es.Publish(ctx, e); err != nil {
		m.warn(ctx, "event not published", err)
	}
}

// WatchEvents calls fn for every session event on every shard until ctx
// ends: created, renewed and destroyed (from any node whose Manager has
// PublishEvents set) and expired (emitted by Redis itself, for sessions of
// any node). It blocks; run it in its own goroutine, once per process that
// wants events. Watching turns on Redis's expired-key notifications on each
// primary with CONFIG SET notify-keyspace-events (adding "Ex" to what is
// set), again after each reconnection, so a restarted or promoted primary
// needs no manual setup; where CONFIG is disabled, set it in redis.conf.
// Events are Redis Pub/Sub messages: delivered at most once, and lost while
// a shard's subscription is down. Errors Watch recovers from are logged.
func (m *Manager) WatchEvents(ctx context.Context, fn func(Event)) error {
	es, ok := storeAs[EventStore](m.Store)
	if !ok {
		return fmt.Errorf("WatchEvents: %w", ErrNotSupported)
	}
	return es.Watch(ctx, fn, func(err error) { m.warn(ctx, "events", err) })
}
