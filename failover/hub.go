package failover

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/pubsub"
)

// A hub is the process's one subscription to one sentinel's +switch-master,
// +odown and -odown channels, shared by every Watcher that follows a master
// there: a process with 30 shards, or with several Clusters over the same
// shards, holds one connection per sentinel, not one per shard and Cluster.
// Sentinel publishes the events of every master it monitors on those
// channels; the hub hands each to the Watchers of its master. The hub also
// holds the process's client for questions to that sentinel (Sentinels),
// which keeps one idle connection.
type hub struct {
	key    hubKey
	opt    Options // connection settings (of the Watcher that started it)
	cancel context.CancelFunc
	done   sync.WaitGroup
	client *redis.SentinelClient // for questions; closed with the hub

	mu       sync.Mutex
	watchers map[*Watcher]bool
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
		h = &hub{key: key, opt: w.opt, cancel: cancel, watchers: map[*Watcher]bool{}}
		h.client = redis.NewSentinelClient(h.questionOptions())
		hubs.m[key] = h
		h.done.Go(func() { h.follow(ctx) })
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
		h.client.Close()
	}
}

// follow subscribes on the sentinel and hands each event to the Watchers
// of its master, until ctx ends. A subscription that fails is logged once
// (Warn) until it works again, so that a sentinel the process cannot
// reach (a wrong address, TLS or password) does not go unnoticed while the
// data nodes keep working; when it works again, every Watcher is told
// (Resubscribed).
func (h *hub) follow(ctx context.Context) {
	addr := h.key.addr
	c := redis.NewSentinelClient(h.sentinelOptions())
	defer c.Close()
	ps := c.Subscribe(ctx, string(SwitchMaster), string(ObjectivelyDown), string(BackUp))
	defer ps.Close()
	failing := false
	pubsub.Receive(ctx, ps, 2*time.Second, pubsub.Backoff{Min: 100 * time.Millisecond, Max: 2 * time.Second},
		func(err error) {
			if !failing {
				failing = true
				h.opt.logger().Warn("failover: cannot follow the sentinel; switches go unseen through it until it answers",
					"sentinel", addr, "masters", h.masters(), "err", err)
			}
		},
		func(msg any) {
			switch m := msg.(type) {
			case *redis.Subscription:
				if failing {
					failing = false
					h.opt.logger().Info("failover: following the sentinel again", "sentinel", addr)
					h.send(ctx, Event{Kind: Resubscribed, At: time.Now()})
				}
			case *redis.Message:
				if ev, ok := parseEvent(m.Channel, m.Payload); ok {
					ev.At = time.Now()
					h.send(ctx, ev)
				}
			}
		})
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

// questionOptions are sentinelOptions for the hub's client of questions:
// one connection kept idle, a few more only while questions of many
// shards overlap (at start, after a failover), closed when returned.
func (h *hub) questionOptions() *redis.Options {
	o := h.sentinelOptions()
	o.PoolSize = 4
	o.MaxIdleConns = 1
	o.MaxRetries = -1
	return o
}
