// Package pubsub keeps Redis Pub/Sub subscriptions alive for the Watch of
// both Redis backends (package cluster, package rediscluster): a receive
// loop that checks a quiet connection, reports and backs off after a
// failure and says when it is (re)subscribed; and a Set of per-node
// watchers that follows a changing list of nodes.
package pubsub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// WatchQuiet is how long a Watch's subscription to session events may stay
// silent before it is checked: a fleet's idle nodes each send every server
// one PING per WatchQuiet, and an event published on a connection that was
// reset unnoticed is lost (delivery is at most once anyway).
const WatchQuiet = 30 * time.Second

// Backoff is the pause after a failed receive: Min, doubling after every
// further failure up to Max, back to Min after a success.
type Backoff struct {
	Min, Max time.Duration
}

// Receive reads ps until ctx ends (then closes it), calling handle with each
// *redis.Subscription (the first subscription, or a re-subscription after
// go-redis re-dialled) and *redis.Message. A connection quiet for quiet is
// checked with a PING, whose write fails on a connection the server or the
// network reset (it is the only traffic of a subscription that hears
// nothing, so a fleet of idle nodes pays it on every server); a failure is
// passed to onErr and followed by a pause (b), after which go-redis
// re-dials and re-subscribes on the next receive.
func Receive(ctx context.Context, ps *redis.PubSub, quiet time.Duration, b Backoff, onErr func(error), handle func(msg any)) {
	// go-redis bounds a receive by its timeout, not by ctx: closing ps
	// ends a receive under way as soon as ctx does.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	wait := b.Min
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, quiet)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var te interface{ Timeout() bool }
			if errors.As(err, &te) && te.Timeout() {
				// Quiet: make sure the connection is alive; a dead one is
				// replaced (and re-subscribed) by the next receive.
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			onErr(err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			wait = min(2*wait, b.Max)
			continue
		}
		wait = b.Min
		handle(msg)
	}
}

// Set runs one watcher goroutine per member (a shard, a master) and
// follows a changing member list. It is used by one goroutine.
type Set[K comparable] struct {
	wg      sync.WaitGroup
	running map[K]context.CancelFunc
}

// Sync starts watch(ctx, k), in a goroutine under a context derived from
// ctx, for each member k of current that has no watcher, and cancels the
// watchers of members not in current.
func (s *Set[K]) Sync(ctx context.Context, current []K, watch func(ctx context.Context, k K)) {
	if s.running == nil {
		s.running = map[K]context.CancelFunc{}
	}
	keep := make(map[K]bool, len(current))
	for _, k := range current {
		keep[k] = true
		if _, ok := s.running[k]; ok {
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		s.running[k] = cancel
		s.wg.Go(func() { watch(wctx, k) })
	}
	for k, cancel := range s.running {
		if !keep[k] {
			cancel()
			delete(s.running, k)
		}
	}
}

// Stop cancels every watcher and waits for them to return.
func (s *Set[K]) Stop() {
	for _, cancel := range s.running {
		cancel()
	}
	s.wg.Wait()
}

// Listeners is a list of listeners that may change while messages are
// handed to it: Each walks a snapshot. The zero value is empty.
type Listeners[T comparable] struct {
	mu sync.Mutex
	ls []T
}

// Add appends x.
func (l *Listeners[T]) Add(x T) {
	l.mu.Lock()
	l.ls = append(l.ls, x)
	l.mu.Unlock()
}

// Remove drops x.
func (l *Listeners[T]) Remove(x T) {
	l.mu.Lock()
	l.ls = slices.DeleteFunc(l.ls, func(y T) bool { return y == x })
	l.mu.Unlock()
}

// Each calls f with each listener of the moment.
func (l *Listeners[T]) Each(f func(T)) {
	l.mu.Lock()
	ls := slices.Clone(l.ls)
	l.mu.Unlock()
	for _, x := range ls {
		f(x)
	}
}
