package shard

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/idleconn"
)

// ha is a shard's failover state: the breakers in front of its clients,
// the Sentinel watcher, and its degraded-mode counters.
type haState struct {
	breaker    *failover.Breaker   // the primary's; nil when disabled
	rbreakers  []*failover.Breaker // one per replica client
	watcher    *failover.Watcher   // nil for a static shard
	onDegraded func(shard string, err error)
	hasRepl    bool

	stopKeepAlive context.CancelFunc // nil for a static shard
	keepAliveDone chan struct{}

	degradedReads atomic.Int64
	unavailable   atomic.Int64
	switches      atomic.Int64
	lastSwitch    atomic.Int64 // unix nanoseconds of the last switch (onEvent)

	mu        sync.Mutex
	listeners []func(failover.Event)
}

// Stats are a shard's failover counters since New.
type Stats struct {
	// DegradedReads counts reads the primary could not serve that a replica
	// served (degraded, read-only mode).
	DegradedReads int64
	// Unavailable counts operations that failed with ErrUnavailable after
	// every node that could serve them was tried.
	Unavailable int64
	// Switches counts the switches of the primary seen for this shard:
	// Sentinel's +switch-master events, or for static addresses a new
	// primary behind Addr (OnFailover).
	Switches int64
	// Breaker is the state of the primary's circuit breaker.
	Breaker failover.State
	// Capabilities are what the last probe of the primary found: what the
	// server is and which commands of the optional features it refuses
	// (see Capabilities; not a series on /metrics, which has its own).
	Capabilities Capabilities
}

// newSentinel builds a shard whose nodes are found through Sentinel.
func newSentinel(opt Options) (*Shard, error) {
	if opt.Addr != "" || len(opt.Replicas) > 0 {
		return nil, fmt.Errorf("%w: shard %s: Sentinel and static addresses both set", ErrBadOptions, opt.Name)
	}
	opt.init()
	if err := opt.Sentinel.Validate(); err != nil {
		return nil, fmt.Errorf("%w: shard %s: %w", ErrBadOptions, opt.Name, err)
	}
	s := &Shard{name: opt.Name, stallWake: make(chan struct{}, 1)}
	s.lastAnswer.Store(time.Now().UnixNano())
	s.finder = newReplicaFinder(s, opt)
	s.primary = s.newSentinelPrimary(opt)
	s.trackDials(s.primary)
	s.reaper = idleconn.New(opt.Client.ConnMaxIdleTime)
	s.reaper.Watch(s.primary)
	s.guard(opt)
	s.instrument(opt)
	var err error
	s.ha.watcher, err = failover.Watch(watcherOptions(opt), s.onEvent)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%w: shard %s: %w", ErrBadOptions, opt.Name, err)
	}
	s.finder.useSentinels(s.ha.watcher.Sentinels())
	ctx, cancel := context.WithCancel(context.Background())
	s.ha.stopKeepAlive, s.ha.keepAliveDone = cancel, make(chan struct{})
	go func() {
		defer close(s.ha.keepAliveDone)
		s.keepAlive(ctx)
	}()
	return s, nil
}

// watcherOptions are the shard's Sentinel options for its Watcher, with
// the client template's TLS and dialer where they are not set. The
// Watcher's hubs are the shard's only connections to the sentinels: they
// follow the switches and answer the shard's questions (Sentinels).
func watcherOptions(opt Options) failover.Options {
	w := *opt.Sentinel
	if w.TLSConfig == nil {
		w.TLSConfig = opt.Client.TLSConfig
	}
	if w.Dialer == nil {
		w.Dialer = opt.Client.Dialer
	}
	return w
}

// guard puts a breaker in front of every client of s.
func (s *Shard) guard(opt Options) {
	s.ha.onDegraded = opt.OnDegradedRead
	s.ha.hasRepl = opt.Sentinel != nil || len(opt.Replicas) > 0
	if s.ha.breaker = failover.NewBreaker(opt.Breaker); s.ha.breaker != nil {
		s.primary.AddHook(s.ha.breaker.Hook())
	}
	for _, r := range s.replicas {
		s.guardReplica(r, opt)
	}
}

// guardReplica puts a breaker in front of r, a replica's client.
func (s *Shard) guardReplica(r *redis.Client, opt Options) {
	b := failover.NewBreaker(opt.Breaker)
	if b == nil {
		return
	}
	r.AddHook(b.Hook())
	s.ha.mu.Lock()
	s.ha.rbreakers = append(s.ha.rbreakers, b)
	s.ha.mu.Unlock()
}

// onEvent follows the watcher, and for a static shard the endpointWatch,
// which reports a new primary behind Addr as a SwitchMaster: a switch
// means a new node behind the primary client, so its breaker starts
// afresh, and replicas serve reads again only once a check finds them
// following the new primary (static replicas: once checked again); +odown
// means Sentinel has agreed the primary is down, so no request needs to
// time out to learn it; after a re-subscription the sentinels are asked
// whether a switch went unheard (recheckPrimary).
//
// A +odown trips the breaker only when it names the primary the shard
// uses, that primary has answered nothing here for the stall threshold,
// and it does not answer a PING now. One about a deposed node comes late,
// from a sentinel that has not yet heard of the switch; and a sentinel may
// flag a primary that was just promoted (its link to the node is new)
// while the node answers this process: tripped then, the breaker would
// fail requests that the node serves.
func (s *Shard) onEvent(ev failover.Event) {
	switch ev.Kind {
	case failover.SwitchMaster:
		s.ha.switches.Add(1)
		s.ha.lastSwitch.Store(ev.At.UnixNano())
		if s.finder != nil {
			s.finder.noteSwitch(ev.New)
		}
		if r := s.readSet.Load(); r != nil && s.finder != nil {
			r.SetPrimary(ev.New)
			s.dropDeposed(ev.New) // after SetPrimary: a new connection dials ev.New
			r.Rediscover()
		} else if r != nil {
			r.Recheck() // static replicas: whether each still follows is the node's own answer
		}
		// After dropDeposed: what was sent to the deposed primary is not
		// counted against the new one (Breaker.Reset).
		s.ha.breaker.Reset()
		s.reprobe()
	case failover.Resubscribed:
		s.recheckPrimary(ev.At)
	case failover.ObjectivelyDown:
		if s.isPrimary(ev.Old) && s.silentFor(s.stallAfter()) && !s.answers() {
			s.ha.breaker.Trip()
		}
	case failover.BackUp:
		if s.isPrimary(ev.Old) {
			s.ha.breaker.Reset()
		}
	}
	s.ha.mu.Lock()
	if ev.Kind == failover.SwitchMaster {
		for _, b := range s.ha.rbreakers {
			b.Reset() // the new primary's replicas may have been failing while they resynced
		}
	}
	ls := append([]func(failover.Event){}, s.ha.listeners...)
	s.ha.mu.Unlock()
	for _, l := range ls {
		l(ev)
	}
}

// isPrimary reports whether addr is the node the shard uses as primary,
// or the shard does not know that yet.
func (s *Shard) isPrimary(addr string) bool {
	cur := s.currentPrimary()
	return cur == "" || cur == addr
}

// answers reports whether the primary answers a PING within
// confirmTimeout. A quiet spell alone does not say the primary is down: an
// idle primary is pinged only while reads go to the replicas (keepAlive).
func (s *Shard) answers() bool {
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	return s.Ping(ctx) == nil
}

// silentFor reports whether the primary has answered nothing for d
// (confirmPrimary notes each answer; keepAlive asks an idle one).
func (s *Shard) silentFor(d time.Duration) bool {
	return time.Since(time.Unix(0, s.lastAnswer.Load())) >= d
}

// recheckPrimary asks the sentinels which node is the primary, after the
// watcher lost a sentinel's subscription and regained it: a switch
// announced meanwhile went unheard there (and, if every subscription was
// down, everywhere). If they name another node than the one the shard
// believes primary (or, before it believes one, the one its primary
// client is connected to), the shard reacts as to a +switch-master, so
// its listeners (a near cache) do too. It runs on the watcher's dispatch
// goroutine, or on one whose dial of the primary failed (recheckAfterDial),
// at most confirmTimeout long.
func (s *Shard) recheckPrimary(at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	primary, _, err := s.finder.discover(ctx)
	if err != nil {
		return
	}
	believed := ""
	if r := s.readSet.Load(); r != nil {
		believed = r.Primary()
	}
	if believed == "" {
		believed = s.Addr(s.primary)
	}
	if believed != "" && primary != believed {
		s.onEvent(failover.Event{Kind: failover.SwitchMaster, MasterName: s.finder.opt.Sentinel.MasterName, Old: believed, New: primary, At: at})
	}
}

// OnFailover registers fn to be called with every failover event of this
// shard, after the shard has reacted to it.
//
// For a shard found through Sentinel these are Sentinel's events
// (+switch-master, +odown, -odown, and a switch that went unheard while a
// subscription was down); Old and New are addresses, and fn runs on the
// watcher's goroutine.
//
// For a shard with static addresses, a SwitchMaster event reports that the
// node behind Addr changed: a new connection of the primary's client met a
// primary with another run_id or replication ID than the one before (a
// managed service's failover behind its fixed endpoint, or a restart of
// the server, which may have lost its last writes too). MasterName is the
// shard's name; Old and New are the two servers' run_ids (INFO server),
// not addresses: the address is the same. fn runs once per change, on the
// goroutine whose command opened that connection, before the connection
// serves it; new connections to that primary wait until fn returns (up to
// a second). So fn must be fast and should not wait for a command of this
// shard (start a goroutine for that, as the revocation journal's replay
// does). No other
// event kinds come for a static shard. See Options.NoIdentityCheck.
func (s *Shard) OnFailover(fn func(failover.Event)) {
	s.ha.mu.Lock()
	s.ha.listeners = append(s.ha.listeners, fn)
	s.ha.mu.Unlock()
}

// LastSwitch returns when this process last saw the shard's primary
// switched (by Sentinel, or behind a static address: see OnFailover), or
// the zero time.
func (s *Shard) LastSwitch() time.Time {
	if n := s.ha.lastSwitch.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// HasReplicas reports whether the shard is configured with replicas (or
// through Sentinel, which finds them).
func (s *Shard) HasReplicas() bool { return s.ha.hasRepl }

// Stats returns the shard's failover counters.
func (s *Shard) Stats() Stats {
	return Stats{
		DegradedReads: s.ha.degradedReads.Load(),
		Unavailable:   s.ha.unavailable.Load(),
		Switches:      s.ha.switches.Load(),
		Breaker:       s.ha.breaker.State(),
		Capabilities:  s.Capabilities(),
	}
}

// Read runs fn, a read-only operation, on the primary; if the primary is
// unavailable (down, or its breaker open) it runs fn on each replica that
// the last check found following the current primary (replica.Set.Fallback)
// in turn, the degraded read-only mode: the answer may lag the primary by the
// replication delay. The error is classified with Wrap. A shard is never
// replaced by another one: if no node of this shard answers, Read fails
// with ErrUnavailable.
func (s *Shard) Read(ctx context.Context, fn func(ctx context.Context, c redis.Cmdable) error) error {
	return s.ReadVia(ctx, s.primary, fn)
}

// ReadVia is Read with primary, something that sends to the shard's
// primary (its go-redis auto-pipeliner, say), in place of the primary
// client.
func (s *Shard) ReadVia(ctx context.Context, primary redis.Cmdable, fn func(ctx context.Context, c redis.Cmdable) error) error {
	err := fn(ctx, primary)
	if err == nil || !IsUnavailable(err) || ctx.Err() != nil {
		return s.Wrap(err)
	}
	s.ConfirmPrimary()
	for _, r := range s.reads.Fallback(ctx) {
		rerr := fn(ctx, r)
		if rerr == nil || !IsUnavailable(rerr) {
			if rerr == nil {
				s.ha.degradedReads.Add(1)
				if s.ha.onDegraded != nil {
					s.ha.onDegraded(s.name, err)
				}
			}
			return s.Wrap(rerr)
		}
	}
	return s.Fail(err)
}

// Fail is Wrap for the final error of an operation: it also counts an
// unavailable shard in Stats.
func (s *Shard) Fail(err error) error {
	if IsUnavailable(err) {
		s.ha.unavailable.Add(1)
	}
	return s.Wrap(err)
}

// closeHA stops the keep-alive and the watcher.
func (s *Shard) closeHA() error {
	if s.ha.stopKeepAlive != nil {
		s.ha.stopKeepAlive()
		<-s.ha.keepAliveDone
	}
	if s.ha.watcher != nil {
		return s.ha.watcher.Close()
	}
	return nil
}
