package nearcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/tracking"
)

// ErrClosed is returned by Ready once the cache is closed.
var ErrClosed = errors.New("shardsession: near cache closed")

// StreamSpec describes a stream to start (Cache.Stream).
type StreamSpec struct {
	// Client is the server's go-redis options: address, credentials, TLS,
	// dialer.
	Client *redis.Options
	// Health, when > 0, lowers Options.HealthInterval for this stream.
	Health time.Duration
	// Started, if set, is called with the new stream before it runs.
	Started func(t *tracking.Stream)
}

// stream is a running stream and what stops it.
type stream struct {
	t    *tracking.Stream
	stop context.CancelFunc
}

// Stream returns the invalidation stream named name (a shard, a server's
// address), starting it the first time with what spec returns: servers
// that join later get theirs on first use. It returns nil once the cache
// is closed.
func (c *Cache) Stream(name string, spec func() StreamSpec) *tracking.Stream {
	if s, ok := c.streams.Load(name); ok {
		return s.(*stream).t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.streams.Load(name); ok {
		return s.(*stream).t
	}
	if c.ctx.Err() != nil {
		return nil
	}
	sp := spec()
	t := &tracking.Stream{
		Client:     sp.Client,
		Health:     c.health,
		Invalidate: c.invalidateKeys,
		Lost:       c.Flush,
		Refused:    func(err error) { c.refused(name, err) },
	}
	if sp.Health > 0 {
		t.Health = min(t.Health, sp.Health)
	}
	if sp.Started != nil {
		sp.Started(t)
	}
	ctx, stop := context.WithCancel(c.ctx)
	c.streams.Store(name, &stream{t: t, stop: stop})
	c.wg.Go(func() { t.Run(ctx) })
	return t
}

// Drop stops the stream named name, if any (its server left), and flushes
// the cache: nothing read on it is tracked any more.
func (c *Cache) Drop(name string) {
	c.mu.Lock()
	s, ok := c.streams.LoadAndDelete(name)
	c.mu.Unlock()
	if ok {
		s.(*stream).stop()
		c.refusals.Delete(name)
		c.Flush()
	}
}

// Streams returns the names of the running streams.
func (c *Cache) Streams() []string {
	var names []string
	c.streams.Range(func(k, _ any) bool {
		names = append(names, k.(string))
		return true
	})
	return names
}

// refused records that the server of stream name refused tracking, and
// logs it the first time: the stream keeps retrying, but nothing of that
// server is cached until its configuration changes.
func (c *Cache) refused(name string, err error) {
	c.trackingRefused.Add(1)
	if _, seen := c.refusals.Swap(name, err); !seen {
		slog.Warn("near cache: the server refused client tracking; its sessions are read uncached until it accepts",
			c.what, name, "err", err)
	}
}

// Refused reports whether the server of the stream named name refused
// tracking the last time the stream tried.
func (c *Cache) Refused(name string) bool {
	_, ok := c.refusals.Load(name)
	return ok
}

// Up reports whether the stream named name runs and is up.
func (c *Cache) Up(name string) bool {
	s, ok := c.streams.Load(name)
	return ok && s.(*stream).t.Up()
}

// offReason says why a refused tracking connection leaves a server
// uncached, in the words of shard.Capabilities.NearCache.
func offReason(err error) string {
	msg := err.Error()
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "client") && (strings.Contains(lower, "unknown command") || strings.Contains(msg, "NOPERM")) {
		return "off: CLIENT refused"
	}
	return "off: " + msg
}

// Ready waits until every stream that streams returns (by name, started
// with Stream; a nil one means the cache is closed) is up. It fails at
// once, naming the stream, when a server refused tracking and its stream
// is not up.
func (c *Cache) Ready(ctx context.Context, streams func() (map[string]*tracking.Stream, error)) error {
	for {
		ts, err := streams()
		if err != nil {
			return fmt.Errorf("shardsession: near cache not ready: %w", err)
		}
		all := true
		for name, t := range ts {
			if t == nil {
				return ErrClosed
			}
			if !t.Up() {
				if err, refused := c.refusals.Load(name); refused {
					return fmt.Errorf("shardsession: near cache not ready: %s %s refused client tracking: %w", c.what, name, err.(error))
				}
				all = false
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shardsession: near cache not ready: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
