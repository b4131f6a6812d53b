package shard

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Addr returns the address of the node behind c, one of this shard's
// clients. Each replica has a client of its own, so this is its address.
// The primary client of a shard found through Sentinel
// (redis.NewFailoverClient) has a placeholder for its Options().Addr
// ("FailoverClient"); for it, Addr is the remote address of the connection
// it dialed last, the current primary. It is "" before that client has
// dialed.
func (s *Shard) Addr(c redis.Cmdable) string {
	if d := s.dialed[c]; d != nil {
		if a := d.addr.Load(); a != nil {
			return *a
		}
		return ""
	}
	if rc, ok := c.(*redis.Client); ok {
		return rc.Options().Addr
	}
	return ""
}

// trackDials makes Addr follow the connections of c.
func (s *Shard) trackDials(c *redis.Client) {
	if s.dialed == nil {
		s.dialed = map[redis.Cmdable]*lastDial{}
	}
	d := &lastDial{}
	c.AddHook(d)
	s.dialed[c] = d
}

// lastDial is a go-redis hook remembering the remote address of the last
// connection dialed.
type lastDial struct{ addr atomic.Pointer[string] }

func (d *lastDial) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err == nil {
			a := conn.RemoteAddr().String()
			d.addr.Store(&a)
		}
		return conn, err
	}
}

func (d *lastDial) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (d *lastDial) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
