package failover

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"
)

// EventKind is the kind of a Sentinel event: the name of the Pub/Sub
// channel Sentinel publishes it on.
type EventKind string

// The Sentinel events a Watcher follows.
const (
	// SwitchMaster: Sentinel promoted a replica; Event.New is the new
	// primary.
	SwitchMaster EventKind = "+switch-master"
	// ObjectivelyDown: a quorum of sentinels agree the primary is down.
	ObjectivelyDown EventKind = "+odown"
	// BackUp: the primary is no longer objectively down.
	BackUp EventKind = "-odown"
	// Resubscribed: the Watcher follows a sentinel again after losing
	// its subscription there. A switch announced meanwhile went unheard
	// through that sentinel: the listener should ask the sentinels which
	// node is the primary now (package shard does). Not a Sentinel
	// channel; Old and New are "".
	Resubscribed EventKind = "resubscribed"
)

// Event is what a Watcher saw on a sentinel's Pub/Sub channels about its
// master.
type Event struct {
	// Kind is SwitchMaster, ObjectivelyDown, BackUp or Resubscribed.
	Kind EventKind
	// MasterName is the master the event is about (for a switch that a
	// shard with static addresses detected itself, the shard's name).
	MasterName string
	// Old is the address of the primary before a switch, or the address
	// that went down / came back for +odown / -odown. For a switch that a
	// shard with static addresses detected behind its fixed address
	// (package shard, OnFailover), it is the old primary's run_id.
	Old string
	// New is the address of the promoted primary; "" except for
	// +switch-master. For a switch a static shard detected, the new
	// primary's run_id.
	New string
	// At is when the Watcher received the event.
	At time.Time
}

// Watcher follows one master's events on every configured sentinel. Each
// sentinel publishes each event, so a switch is delivered once per new
// address, not once per sentinel. It is safe for concurrent use.
type Watcher struct {
	opt    Options
	listen func(Event)
	ctx    context.Context
	cancel context.CancelFunc
	done   sync.WaitGroup
	events chan Event // from the hubs, to dispatch
	hubs   []*hub

	mu      sync.Mutex
	primary string // the last known primary address, "" if unknown
	down    bool   // between +odown and -odown / +switch-master
}

// Watch starts following opt.MasterName's +switch-master, +odown and
// -odown events on every sentinel of opt, until Close. listen is called
// for each distinct event, from one goroutine at a time. The process holds
// one connection per sentinel, shared by all its Watchers (a Watcher whose
// Options set a Dialer has its own), subscribed to the events and used for
// questions (Sentinels); it reconnects by itself when a sentinel goes away
// and comes back, and then tells every Watcher (Resubscribed).
func Watch(opt Options, listen func(Event)) (*Watcher, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{opt: opt, listen: listen, ctx: ctx, cancel: cancel, events: make(chan Event, 64)}
	w.done.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case ev := <-w.events:
				w.dispatch(ev)
			}
		}
	})
	for _, addr := range opt.SentinelAddrs {
		w.hubs = append(w.hubs, join(w, addr))
	}
	return w, nil
}

// receive queues ev, an event of w's master from a hub, for dispatch.
func (w *Watcher) receive(ctx context.Context, ev Event) {
	select {
	case w.events <- ev:
	case <-ctx.Done():
	case <-w.ctx.Done():
	}
}

// parseEvent reads
//
//	+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>
//	+odown master <name> <ip> <port> #quorum q/n
//	-odown master <name> <ip> <port>
func parseEvent(channel, payload string) (Event, bool) {
	f := strings.Fields(payload)
	switch kind := EventKind(channel); kind {
	case SwitchMaster:
		if len(f) < 5 {
			return Event{}, false
		}
		return Event{Kind: kind, MasterName: f[0], Old: net.JoinHostPort(f[1], f[2]), New: net.JoinHostPort(f[3], f[4])}, true
	case ObjectivelyDown, BackUp:
		if len(f) < 4 || f[0] != "master" {
			return Event{}, false
		}
		return Event{Kind: kind, MasterName: f[1], Old: net.JoinHostPort(f[2], f[3])}, true
	}
	return Event{}, false
}

// dispatch drops the copies of an event that other sentinels sent, logs
// the rest (a re-subscription is logged by follow) and passes them on.
func (w *Watcher) dispatch(ev Event) {
	w.mu.Lock()
	switch ev.Kind {
	case SwitchMaster:
		if w.primary == ev.New {
			w.mu.Unlock()
			return
		}
		w.primary, w.down = ev.New, false
	case ObjectivelyDown:
		if w.down {
			w.mu.Unlock()
			return
		}
		w.down = true
	case BackUp:
		if !w.down {
			w.mu.Unlock()
			return
		}
		w.down = false
	}
	w.mu.Unlock()
	log := w.opt.logger()
	switch ev.Kind {
	case SwitchMaster:
		log.Info("failover: primary switched", "shard", ev.MasterName, "old", ev.Old, "new", ev.New)
	case ObjectivelyDown:
		log.Warn("failover: primary objectively down", "shard", ev.MasterName, "addr", ev.Old)
	case BackUp:
		log.Info("failover: primary back up", "shard", ev.MasterName, "addr", ev.Old)
	}
	if w.listen != nil {
		w.listen(ev)
	}
}

// Primary returns the primary's address as of the last +switch-master this
// Watcher saw, or "" if it has seen none.
func (w *Watcher) Primary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.primary
}

// Sentinels returns the sentinels of Options.SentinelAddrs, in their
// order, to ask about the master (SENTINEL MASTER, REPLICAS,
// GET-MASTER-ADDR-BY-NAME), on the connections the Watcher follows them
// on: a process keeps one connection per sentinel, however many shards it
// has. They are valid until Close.
func (w *Watcher) Sentinels() []Sentinel {
	out := make([]Sentinel, len(w.hubs))
	for i, h := range w.hubs {
		out[i] = Sentinel{h}
	}
	return out
}

// Sentinel is one sentinel, asked on the process's connection to it.
type Sentinel struct{ h *hub }

// Addr returns the sentinel's address.
func (s Sentinel) Addr() string { return s.h.key.addr }

// Do sends one command to the sentinel and returns its RESP3 reply:
// strings as string, integers as int64, arrays and maps (flattened, key
// then value) as []any, nulls as nil; an error reply is returned as the
// error. Until the connection's first attempt has ended Do waits for it;
// afterwards a sentinel that is not connected fails at once.
func (s Sentinel) Do(ctx context.Context, args ...string) (any, error) {
	return s.h.do(ctx, args...)
}

// Close stops following and waits for the goroutines to end; a hub that
// no other Watcher uses is closed.
func (w *Watcher) Close() error {
	w.cancel()
	for _, h := range w.hubs {
		h.leave(w)
	}
	w.done.Wait()
	return nil
}
