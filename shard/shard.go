package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/idleconn"
	"github.com/shardsession/shardsession/replica"
)

// Shard is one Redis primary and its replicas. It is safe for concurrent use;
// its clients are fixed for its lifetime.
type Shard struct {
	name     string
	primary  *redis.Client
	replicas []*redis.Client // static addresses' (Options.Replicas)
	finder   *replicaFinder  // Sentinel's replicas; nil for static addresses

	ha haState // failover state: breakers, Sentinel watcher, degraded reads

	reads *replica.Set // read policy and replica health

	dialed map[redis.Cmdable]*lastDial // Sentinel-pointed clients' real addresses (Addr)
	reaper *idleconn.Reaper            // closes pooled connections idle for ConnMaxIdleTime; nil when kept

	endpoint *endpointWatch // the identity behind a static Addr; nil for Sentinel or Options.NoIdentityCheck

	readSet    atomic.Pointer[replica.Set] // reads, for the primary's connections, which its checks may dial before New returns
	lastAnswer atomic.Int64                // unix ns of the Sentinel primary's last answer (confirmPrimary)
	stall      atomic.Int64                // the stall threshold, ns; see stall.go
	confirmMu  sync.Mutex                  // one sentinel check at a time after a stall
	stallWake  chan struct{}               // wakes keepAlive (ConfirmPrimary); nil for a static shard

	dialRecheck     sync.Mutex // one look at the sentinels at a time after a failed dial
	lastDialRecheck time.Time  // when the last one began

	clientOpt   *redis.Options               // the client template (Options.Client)
	caps        atomic.Pointer[Capabilities] // the last probe's findings; see capabilities.go
	probeMu     sync.Mutex                   // guards probeCtx against Close
	probeCtx    context.Context              // cancelled by Close
	probeCancel context.CancelFunc
	probeWG     sync.WaitGroup
}

// New connects lazily (go-redis dials on first use) to the shard described by
// opt. It validates the options and returns an error wrapping ErrBadOptions
// for an empty name or address.
func New(opt Options) (*Shard, error) {
	if opt.Name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrBadOptions)
	}
	if opt.Sentinel != nil {
		s, err := newSentinel(opt)
		if err != nil {
			return nil, err
		}
		s.startProbe(opt)
		return s.watchReplicas(opt)
	}
	if opt.Addr == "" {
		return nil, fmt.Errorf("%w: shard %s: empty primary address", ErrBadOptions, opt.Name)
	}
	opt.init()
	s := &Shard{name: opt.Name}
	popt := opt.clientFor(opt.Addr)
	if !opt.NoIdentityCheck {
		s.watchEndpoint(popt)
	}
	s.primary = redis.NewClient(popt)
	if s.endpoint != nil {
		s.primary.AddHook(readOnlyHook{s.endpoint})
	}
	s.reaper = idleconn.New(opt.Client.ConnMaxIdleTime)
	s.reaper.Watch(s.primary)
	for _, addr := range opt.Replicas {
		r := redis.NewClient(opt.clientFor(addr))
		s.reaper.Watch(r)
		s.replicas = append(s.replicas, r)
	}
	s.guard(opt)
	s.instrument(opt)
	s.startProbe(opt)
	return s.watchReplicas(opt)
}

// startProbe probes the primary's capabilities in the background.
func (s *Shard) startProbe(opt Options) {
	s.clientOpt = opt.Client
	s.probeCtx, s.probeCancel = context.WithCancel(context.Background())
	s.reprobe()
}

// Name returns the shard's name.
func (s *Shard) Name() string { return s.name }

// String returns the shard's name, so a Shard can be a ring member.
func (s *Shard) String() string { return s.name }

// Primary returns the client of the shard's primary, where every write goes.
func (s *Shard) Primary() *redis.Client { return s.primary }

// Replicas returns the clients of the shard's replicas: in configuration
// order for static addresses; for a shard found through Sentinel, one per
// replica the sentinels listed at the last look (package replica's
// Discover), each aimed at its node. The slice is the caller's.
func (s *Shard) Replicas() []*redis.Client {
	if s.reads == nil {
		return append([]*redis.Client(nil), s.replicas...)
	}
	return s.reads.Replicas()
}

// Wrap classifies err, a failure of a command sent to this shard (see the
// package-level Wrap).
func (s *Shard) Wrap(err error) error { return Wrap(s.name, err) }

// Ping checks that the primary answers.
func (s *Shard) Ping(ctx context.Context) error {
	return s.Wrap(s.primary.Ping(ctx).Err())
}

// Close closes every client of the shard.
func (s *Shard) Close() error {
	s.probeMu.Lock()
	if s.probeCancel != nil {
		s.probeCancel()
	}
	s.probeMu.Unlock()
	s.probeWG.Wait()
	if s.reads != nil {
		s.reads.Close()
	}
	if s.endpoint != nil {
		s.endpoint.close()
	}
	errs := []error{s.closeHA(), s.primary.Close()}
	for _, r := range s.replicas {
		errs = append(errs, r.Close())
	}
	if s.finder != nil {
		errs = append(errs, s.finder.Close())
	}
	s.reaper.Close()
	return errors.Join(errs...)
}
