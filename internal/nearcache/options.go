package nearcache

import (
	"errors"
	"time"
)

// Options configure a Cache. The zero value works.
type Options struct {
	// MaxEntries bounds the number of cached sessions. Default 100,000.
	MaxEntries int

	// MaxBytes bounds the cached sessions' size, as reported by the decode
	// function plus the ID and a fixed overhead per entry. Default 64 MiB.
	MaxBytes int64

	// HealthInterval is how long after its server was last heard from
	// (a reply, an invalidation) an entry may be served without a check:
	// past it, a hit first sends a PING on the stream and waits for the
	// reply, behind which come every invalidation pushed before it. A
	// stream that does not answer is not served from, and a command that
	// waits three intervals for its reply breaks the connection, which
	// flushes the cache. An idle stream is never pinged. Keep it below the
	// time a failover takes to promote a replica. Default 1 s.
	HealthInterval time.Duration

	// MinReuse is the hits a cached session must serve on this node, on
	// average, before Redis tells the cache to drop it (another node's
	// write, its expiry), for the cache to go on taking every session in;
	// below it, the cache keeps only a sample of one session in sixteen,
	// which goes on measuring, and reads and writes the others through the
	// backend, untracked (see admission.go). Behind a balancer that sends
	// a session's requests back to the node that read it, a session serves
	// many; behind round-robin over many nodes hardly any. Default 0.1;
	// negative: cache every session whatever the reuse.
	MinReuse float64

	// ReuseWindow is how many dropped sessions each judgement of the reuse
	// counts. Default 32.
	ReuseWindow int
}

// ErrBadOptions is returned by New for options out of range.
var ErrBadOptions = errors.New("nearcache: bad options")

func (o *Options) init() {
	if o.MaxEntries == 0 {
		o.MaxEntries = 100_000
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = time.Second
	}
	if o.MinReuse == 0 {
		o.MinReuse = 0.1
	}
	if o.ReuseWindow == 0 {
		o.ReuseWindow = 32
	}
}
