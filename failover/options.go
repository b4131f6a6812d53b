package failover

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
)

// Options say how to find a shard's nodes through Redis Sentinel.
type Options struct {
	// MasterName is the name the sentinels monitor the primary under
	// (sentinel monitor <name> ...). Required.
	MasterName string
	// SentinelAddrs are "host:port" addresses of the sentinels, every one
	// of them: each is followed and asked (no others are looked for). At
	// least one is required.
	SentinelAddrs []string
	// SentinelUsername and SentinelPassword authenticate to the sentinels
	// (the data nodes use the shard's client template). Default "": no
	// AUTH.
	SentinelUsername, SentinelPassword string
	// TLSConfig, when set, makes every connection to the sentinels TLS.
	// Default nil: in a shard (shard.Options.Sentinel) the TLSConfig of
	// the shard's client template; for Watch alone, plain TCP.
	TLSConfig *tls.Config
	// Dialer, when set, opens the Watcher's connections to the sentinels
	// (it then does the TLS handshake itself, as a go-redis Dialer does).
	// Default nil: in a shard, the Dialer of the shard's client template;
	// for Watch alone, net.Dialer with a 1 s timeout.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
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
