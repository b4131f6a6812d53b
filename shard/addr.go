package shard

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Addr returns the address of the node behind c, one of this shard's
// clients. Each replica has a client of its own, so this is its address.
// The primary client of a shard found through Sentinel has a placeholder
// for its Options().Addr ("sentinel:" and the master's name); for it, Addr
// is the remote address of the connection it dialed last, the current
// primary. It is "" before that client has dialed.
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

// trackDials makes Addr follow the connections of c, the primary's client
// of a shard found through Sentinel, and guards them (primaryConn).
func (s *Shard) trackDials(c *redis.Client) {
	if s.dialed == nil {
		s.dialed = map[redis.Cmdable]*lastDial{}
	}
	d := &lastDial{s: s}
	c.AddHook(d)
	s.dialed[c] = d
}

// lastDial is a go-redis hook remembering the remote address of the last
// connection dialed, and wrapping each in a primaryConn.
type lastDial struct {
	s    *Shard
	addr atomic.Pointer[string]

	mu    sync.Mutex
	conns map[*primaryConn]struct{} // open, for dropDeposed
}

func (d *lastDial) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr) // addr is a placeholder: go-redis asks a sentinel
		if err != nil {
			return nil, err
		}
		a := conn.RemoteAddr().String()
		d.addr.Store(&a)
		pc := &primaryConn{Conn: conn, s: d.s, d: d, addr: a}
		if err := pc.deposed(); err != nil {
			return nil, err
		}
		d.mu.Lock()
		if d.conns == nil {
			d.conns = map[*primaryConn]struct{}{}
		}
		d.conns[pc] = struct{}{}
		d.mu.Unlock()
		if sc, ok := conn.(syscall.Conn); ok {
			return sysPrimaryConn{pc, sc}, nil
		}
		return pc, nil
	}
}

// dropDeposed closes the connections to nodes other than primary, the
// new primary of a switch, as go-redis's failover client drops its
// pooled connections to the old one: an idle connection is then found
// closed by the pool's health check (sysPrimaryConn) and replaced before
// a command is sent on it, and one in use fails its command, which
// go-redis retries once on a new connection.
func (s *Shard) dropDeposed(primary string) {
	for _, d := range s.dialed {
		d.mu.Lock()
		for pc := range d.conns {
			if pc.addr != primary {
				pc.Conn.Close()
			}
		}
		d.mu.Unlock()
	}
}

// currentPrimary is the primary's address as the shard last heard it from
// the sentinels (replica.Set.Primary), "" before it has.
func (s *Shard) currentPrimary() string {
	if r := s.readSet.Load(); r != nil {
		return r.Primary()
	}
	return ""
}

// primaryConn is a connection of the primary's client to addr that stops
// working once the shard hears that the sentinels have made another node
// primary: a command is not sent on it, and a reply read from it is
// dropped (the caller gets an error wrapping ErrUnavailable, and the
// connection is closed). go-redis itself drops such connections only when
// the one sentinel it listens to announces the switch, and a deposed
// primary that resumes answers what was queued on them: an acknowledgement
// of a write on a branch of history the failover discards.
type primaryConn struct {
	net.Conn
	s    *Shard
	d    *lastDial
	addr string
}

// sysPrimaryConn is a primaryConn over a TCP connection: it lets go-redis's
// pool look at the socket (syscall.Conn) before it hands the connection
// out, as it does for the connections it dials itself, so one closed by
// dropDeposed is replaced instead of failing a command.
type sysPrimaryConn struct {
	*primaryConn
	sc syscall.Conn
}

func (c sysPrimaryConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }

// Close closes the connection and forgets it.
func (c *primaryConn) Close() error {
	c.d.mu.Lock()
	delete(c.d.conns, c)
	c.d.mu.Unlock()
	return c.Conn.Close()
}

// deposed reports, and closes the connection, when addr is no longer the
// primary.
func (c *primaryConn) deposed() error {
	if cur := c.s.currentPrimary(); cur != "" && cur != c.addr {
		c.Conn.Close()
		return fmt.Errorf("%w: %s is no longer the primary (the sentinels name %s)", ErrUnavailable, c.addr, cur)
	}
	return nil
}

func (c *primaryConn) Write(b []byte) (int, error) {
	if err := c.deposed(); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

func (c *primaryConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	derr := c.deposed()
	if derr == nil && n > 0 {
		derr = c.s.confirmPrimary(c.addr)
	}
	if derr != nil {
		c.Conn.Close()
		return 0, derr
	}
	return n, err
}

func (d *lastDial) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (d *lastDial) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
