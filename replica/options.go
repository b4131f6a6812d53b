package replica

import (
	"fmt"
	"time"
)

// Options configure a Set. The zero value is valid: PrimaryOnly, with
// replicas still watched so that a request may opt into them (WithPolicy).
type Options struct {
	// Policy is the read policy when the request's context sets none.
	// Default PrimaryOnly.
	Policy Policy

	// MaxLag is how far behind the primary a replica may be and still serve
	// reads. Default 1 s. It should be several CheckIntervals: lag is
	// measured with that resolution.
	MaxLag time.Duration

	// CheckInterval is the time between two health checks. Default 250 ms.
	CheckInterval time.Duration

	// CheckTimeout bounds one node's health check; a replica that does not
	// answer in time is down. Default 500 ms.
	CheckTimeout time.Duration
}

func (o *Options) init() {
	if o.MaxLag == 0 {
		o.MaxLag = time.Second
	}
	if o.CheckInterval == 0 {
		o.CheckInterval = 250 * time.Millisecond
	}
	if o.CheckTimeout == 0 {
		o.CheckTimeout = 500 * time.Millisecond
	}
}

func (o *Options) validate() error {
	switch {
	case o.Policy < PrimaryOnly || o.Policy > LowestLatency:
		return fmt.Errorf("%w: unknown policy %d", ErrBadOptions, o.Policy)
	case o.MaxLag < 0 || o.CheckInterval < 0 || o.CheckTimeout < 0:
		return fmt.Errorf("%w: negative duration", ErrBadOptions)
	}
	return nil
}
