package failover

import (
	"fmt"
	"log/slog"
)

// Options say how to find a shard's nodes through Redis Sentinel.
type Options struct {
	// MasterName is the name the sentinels monitor the primary under
	// (sentinel monitor <name> ...). Required.
	MasterName string
	// SentinelAddrs are "host:port" addresses of sentinels; more are
	// discovered from them. At least one is required.
	SentinelAddrs []string
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// (the data nodes use the shard's client template).
	SentinelUsername, SentinelPassword string
	// Logger receives one Info record per primary switch and Warn records
	// for +odown. Default slog.Default().
	Logger *slog.Logger
}

// Validate checks the required fields; its errors wrap ErrBadOptions.
func (o *Options) Validate() error {
	switch {
	case o == nil:
		return fmt.Errorf("%w: nil options", ErrBadOptions)
	case o.MasterName == "":
		return fmt.Errorf("%w: empty master name", ErrBadOptions)
	case len(o.SentinelAddrs) == 0:
		return fmt.Errorf("%w: master %s: no sentinel addresses", ErrBadOptions, o.MasterName)
	}
	return nil
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}
