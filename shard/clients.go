package shard

import (
	"context"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
)

// The go-redis clients of a shard found through Sentinel, built from the
// shard's client template.

// failFast returns a copy of tmpl with the retry settings this package
// relies on: at most one retry of a command (go-redis retries EOF and
// READONLY, which is right once during a switch and wasteful after it,
// #784/#3540) and one dial attempt per connection (go-redis v9.23 otherwise
// dials five times with 100 ms pauses, so a dead node costs seconds
// instead of a refused connection). Fields tmpl sets explicitly are kept.
func failFast(tmpl redis.Options) redis.Options {
	if tmpl.MaxRetries == 0 {
		tmpl.MaxRetries = 1
	}
	if tmpl.MinRetryBackoff == 0 {
		tmpl.MinRetryBackoff = 10 * time.Millisecond
	}
	if tmpl.MaxRetryBackoff == 0 {
		tmpl.MaxRetryBackoff = 100 * time.Millisecond
	}
	if tmpl.DialerRetries == 0 {
		tmpl.DialerRetries = 1
	}
	return tmpl
}

// newSentinelPrimary returns the client of the primary of a shard found
// through Sentinel: a go-redis client made from the client template (every
// field of it, as for a static shard) whose connections go to the node the
// shard believes primary (dialPrimary). It is not go-redis's failover
// client, which holds a subscription and a pool on a sentinel per client:
// with one client per shard that is two connections per shard on the
// sentinels for every web node, where the shard's Watcher already follows
// the switches on the process's one subscription per sentinel.
func (s *Shard) newSentinelPrimary(opt Options) *redis.Client {
	o := opt.clientFor("sentinel:" + opt.Sentinel.MasterName) // a name for logs; dialPrimary finds the node
	dial := o.Dialer
	if dial == nil {
		dial = redis.NewDialer(o) // TCP, or TLS with the template's TLSConfig
	}
	o.Dialer = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return s.dialPrimary(ctx, network, dial)
	}
	return redis.NewClient(o)
}

// dialPrimary connects to the node the shard believes primary, the one the
// last switch named or, before any, the sentinels name (asked then). If
// that node cannot be reached, the sentinels are asked again (at most once
// a second per shard: the breaker keeps trying while a primary is down):
// a switch that went unheard is found there, reacted to as to a
// +switch-master, and the new primary dialed.
func (s *Shard) dialPrimary(ctx context.Context, network string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) (net.Conn, error) {
	addr := s.currentPrimary()
	if addr == "" {
		primary, err := s.learnPrimary(ctx)
		if err != nil {
			return nil, err
		}
		addr = primary
	}
	conn, err := dial(ctx, network, addr)
	if err == nil || ctx.Err() != nil {
		return conn, err
	}
	s.recheckAfterDial(addr)
	if now := s.currentPrimary(); now != "" && now != addr {
		return dial(ctx, network, now)
	}
	return nil, err
}

// dialRecheckEvery is how often a failed dial of the primary may ask the
// sentinels whether another node is primary now.
const dialRecheckEvery = time.Second

// recheckAfterDial asks the sentinels which node is primary, after a dial
// of addr failed, unless another dial asked within dialRecheckEvery or the
// shard has meanwhile heard of a switch away from addr.
func (s *Shard) recheckAfterDial(addr string) {
	s.dialRecheck.Lock()
	defer s.dialRecheck.Unlock()
	if s.currentPrimary() != addr || time.Since(s.lastDialRecheck) < dialRecheckEvery {
		return
	}
	s.lastDialRecheck = time.Now()
	s.recheckPrimary(s.lastDialRecheck)
}
