package replica

import (
	"fmt"
	"time"
)

// Options configure a Set. The zero value is valid: PrimaryOnly, with the
// replicas checked only while something wants them (see Idle).
type Options struct {
	// Policy is the read policy when the request's context sets none.
	// Default PrimaryOnly.
	Policy Policy

	// MaxLag is how far behind the primary a replica may be and still serve
	// reads. Default 3 s. It should be several CheckIntervals: lag is
	// measured with that resolution.
	MaxLag time.Duration

	// CheckInterval is the time between two health checks, each one
	// shortened or lengthened by up to a tenth at random, so that a
	// fleet's checks do not fall in step. Default 1 s.
	CheckInterval time.Duration

	// CheckTimeout bounds one node's health check; a replica that does not
	// answer in time is down. Default 500 ms.
	CheckTimeout time.Duration

	// Idle is how long a Set whose Policy is PrimaryOnly goes on checking
	// its replicas after the last call that wanted them: a Pick under a
	// policy that reads from replicas (WithPolicy), Fallback, Status,
	// Healthy, Checked or Recheck. Then it sends nothing, to the replicas
	// or the primary, until the next such call wakes it: a fleet whose
	// reads all go to the primary pays for no health checks. A Set whose
	// Policy reads from replicas checks all the time. Default 1 minute.
	Idle time.Duration
}

func (o *Options) init() {
	if o.MaxLag == 0 {
		o.MaxLag = 3 * time.Second
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = time.Second
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 500 * time.Millisecond
	}
	if o.Idle == 0 {
		o.Idle = time.Minute
	}
}

func (o *Options) validate() error {
	switch {
	case o.Policy < PrimaryOnly || o.Policy > LowestLatency:
		return fmt.Errorf("%w: unknown policy %d", ErrBadOptions, o.Policy)
	case o.MaxLag < 0 || o.CheckInterval < 0 || o.CheckTimeout < 0 || o.Idle < 0:
		return fmt.Errorf("%w: negative duration", ErrBadOptions)
	}
	return nil
}
