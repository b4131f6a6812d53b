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

	// HealthInterval is how often each invalidation stream is pinged when
	// it is quiet. A stream silent for three intervals counts as lost and
	// the cache is flushed. Default 1 s.
	HealthInterval time.Duration
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
}
