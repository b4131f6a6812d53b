package shard

import (
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options configure one shard.
type Options struct {
	// Name identifies the shard on the ring and in errors, logs and metrics.
	// It must be stable: renaming a shard moves its sessions on the ring.
	// Required.
	Name string

	// Addr is the primary's "host:port". Required.
	Addr string

	// Replicas are the replicas' "host:port" addresses. They are connected but
	// not read from until a read policy says so (package replica).
	Replicas []string

	// Client is the template for every client of the shard (pool size,
	// timeouts, credentials, TLS...). Its Addr is ignored. Nil means go-redis
	// defaults, except ReadTimeout and WriteTimeout of 1s and DialTimeout of
	// 1s: a session store must fail fast rather than hang a web request.
	Client *redis.Options
}

// ErrBadOptions is wrapped by every validation error of New.
var ErrBadOptions = errors.New("shardsession: bad shard options")

func (o *Options) init() {
	if o.Client == nil {
		o.Client = &redis.Options{
			DialTimeout:  time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
		}
	}
}

// clientFor returns a copy of the template aimed at addr.
func (o *Options) clientFor(addr string) *redis.Options {
	c := *o.Client
	c.Addr = addr
	return &c
}
