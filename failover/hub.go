package failover

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/tracking"
)

// A hub is the process's one connection to one sentinel, shared by every
// Watcher that follows a master there: a process with 30 shards, or with
// several Clusters over the same shards, holds one connection per
// sentinel, not one per shard and Cluster. It is a RESP3 connection, on
// which Redis lets a subscriber send commands too: it is subscribed to the
// +switch-master, +odown and -odown channels, where Sentinel publishes the
// events of every master it monitors (the hub hands each to the Watchers
// of its master), and it carries the shards' questions (Sentinel.Do).
type hub struct {
	key    hubKey
	opt    Options // connection settings (of the Watcher that started it)
	cancel context.CancelFunc
	done   sync.WaitGroup
	stream *tracking.Stream

	mu       sync.Mutex
	watchers map[*Watcher]bool
	failing  bool          // the connection broke or could not be made, and is not back
	tried    bool          // a first attempt to connect has ended
	up       chan struct{} // closed when subscribed; replaced when the connection breaks
}

// hubKey identifies the sentinel and how it is reached: Watchers that
// reach it alike share its hub. A custom Dialer cannot be compared, so a
// Watcher with one has hubs of its own.
type hubKey struct {
	addr, username, password string
	tls                      any // the *tls.Config pointer, nil for none
	own                      *Watcher
}

var hubs = struct {
	sync.Mutex
	m map[hubKey]*hub
}{m: map[hubKey]*hub{}}

// join adds w to the hub of the sentinel at addr, starting it if needed.
func join(w *Watcher, addr string) *hub {
	key := hubKey{addr: addr, username: w.opt.SentinelUsername, password: w.opt.SentinelPassword}
	if w.opt.TLSConfig != nil {
		key.tls = w.opt.TLSConfig
	}
	if w.opt.Dialer != nil {
		key.own = w
	}
	hubs.Lock()
	defer hubs.Unlock()
	h := hubs.m[key]
	if h == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h = &hub{key: key, opt: w.opt, cancel: cancel, watchers: map[*Watcher]bool{}, up: make(chan struct{})}
		h.start(ctx)
		hubs.m[key] = h
	}
	h.mu.Lock()
	h.watchers[w] = true
	h.mu.Unlock()
	return h
}

// leave removes w from h, and stops h when w was its last Watcher.
func (h *hub) leave(w *Watcher) {
	hubs.Lock()
	h.mu.Lock()
	delete(h.watchers, w)
	last := len(h.watchers) == 0
	h.mu.Unlock()
	if last {
		delete(hubs.m, h.key)
	}
	hubs.Unlock()
	if last {
		h.cancel()
		h.done.Wait()
	}
}

// hubQuiet is how long the hub's connection may be silent before it is
// checked with a PING; one that leaves a command unanswered for three
// times as long is broken and made again. Every node of a fleet holds a
// hub per sentinel, so this is a sentinel's idle load: 0.2 PINGs per
// second per node. A connection that died silently goes unnoticed for up
// to four times as long, while the other sentinels' connections still
// carry the switches, and a switch announced meanwhile is looked for when
// it is made again (Resubscribed).
const hubQuiet = 5 * time.Second

// start runs the hub's connection until ctx ends: subscribed, reconnected
// with backoff when it breaks, checked after hubQuiet of silence. A
// connection that breaks or cannot be made is logged once (Warn) until it
// works again, so that a sentinel the process cannot reach (a wrong
// address, TLS or password) does not go unnoticed while the data nodes
// keep working; when it works again, every Watcher is told
// (Resubscribed): a switch announced meanwhile went unheard.
func (h *hub) start(ctx context.Context) {
	addr := h.key.addr
	var lastErr error // of the connection, from the stream's goroutine
	h.stream = &tracking.Stream{
		Client:     h.sentinelOptions(),
		Health:     hubQuiet,
		NoTracking: true,
		Name:       "shardsession-sentinel",
		Invalidate: func([]string) {},
		Failed:     func(err error) { lastErr = err },
		Refused:    func(err error) { lastErr = err },
		Lost: func() {
			if ctx.Err() != nil {
				return
			}
			h.mu.Lock()
			warn := !h.failing
			h.failing, h.tried = true, true
			select {
			case <-h.up:
				h.up = make(chan struct{})
			default:
			}
			h.mu.Unlock()
			if warn {
				h.opt.logger().Warn("failover: cannot follow the sentinel; switches go unseen through it until it answers",
					"sentinel", addr, "masters", h.masters(), "err", lastErr)
			}
		},
		Subscribed: func(channel string) {
			if channel != string(SwitchMaster) {
				return
			}
			h.mu.Lock()
			back := h.failing
			h.failing, h.tried = false, true
			select {
			case <-h.up:
			default:
				close(h.up)
			}
			h.mu.Unlock()
			if back {
				h.opt.logger().Info("failover: following the sentinel again", "sentinel", addr)
				h.send(ctx, Event{Kind: Resubscribed, At: time.Now()})
			}
		},
		Message: func(channel, payload string) {
			if ev, ok := parseEvent(channel, payload); ok {
				ev.At = time.Now()
				h.send(ctx, ev)
			}
		},
	}
	h.stream.Subscribe(string(SwitchMaster), string(ObjectivelyDown), string(BackUp))
	h.done.Go(func() { h.stream.Run(ctx) })
	h.done.Go(func() {
		tick := time.NewTicker(hubQuiet / 2)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				h.stream.CheckQuiet(ctx, hubQuiet) // no answer: the stream's watchdog breaks the connection
			}
		}
	})
}

// do sends a command to the sentinel on the hub's connection and returns
// its reply. Before the hub's first attempt to connect has ended it waits
// for the connection (or ctx); after that, a sentinel that is not
// reachable fails at once (tracking.ErrDown), as a refused dial would.
func (h *hub) do(ctx context.Context, args ...string) (any, error) {
	h.mu.Lock()
	up, tried := h.up, h.tried
	h.mu.Unlock()
	if !tried {
		select {
		case <-up:
		case <-ctx.Done():
			return nil, fmt.Errorf("sentinel %s: %w", h.key.addr, ctx.Err())
		}
	}
	v, err := h.stream.Do(ctx, nil, args...)
	if err != nil {
		return nil, fmt.Errorf("sentinel %s: %w", h.key.addr, err)
	}
	return v, nil
}

// send hands ev to the Watchers of its master; a Resubscribed event, which
// names none, to every Watcher, with its master's name.
func (h *hub) send(ctx context.Context, ev Event) {
	h.mu.Lock()
	var to []*Watcher
	for w := range h.watchers {
		if ev.Kind == Resubscribed || w.opt.MasterName == ev.MasterName {
			to = append(to, w)
		}
	}
	h.mu.Unlock()
	for _, w := range to {
		e := ev
		e.MasterName = w.opt.MasterName
		w.receive(ctx, e)
	}
}

// masters returns the names of the masters h's Watchers follow.
func (h *hub) masters() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for w := range h.watchers {
		out = append(out, w.opt.MasterName)
	}
	return out
}

// sentinelOptions are the options of the connection to the sentinel: TLS,
// dialer and credentials from the hub's Options.
func (h *hub) sentinelOptions() *redis.Options {
	return &redis.Options{
		Addr:                  h.key.addr,
		Username:              h.opt.SentinelUsername,
		Password:              h.opt.SentinelPassword,
		TLSConfig:             h.opt.TLSConfig,
		Dialer:                h.opt.Dialer,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		ContextTimeoutEnabled: true,
		DialerRetries:         1,
		DisableIdentity:       true,
	}
}
