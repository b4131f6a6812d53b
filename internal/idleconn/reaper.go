package idleconn

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultAfter is the idle time after which the clients of packages
// shard and rediscluster close a pooled connection, unless their
// ConnMaxIdleTime says otherwise: long enough that steady traffic never
// redials, short enough that a fleet of web nodes does not keep every
// connection its bursts opened.
const DefaultAfter = 5 * time.Minute

// reapBit marks a connection the reaper has closed; the bits below it
// count what the connection carried.
const reapBit = 1 << 63

// errReaped is returned by a write on a connection the reaper closed
// while it was in the pool. It wraps io.EOF, so go-redis retries the
// command on another connection: nothing of it was sent.
var errReaped = fmt.Errorf("idleconn: the connection was closed as idle: %w", io.EOF)

// Reaper tracks the connections of the clients it watches and closes
// those idle for longer than its idle time. Its methods are safe on a nil
// Reaper, which does nothing.
type Reaper struct {
	after time.Duration

	mu    sync.Mutex
	conns map[*idleConn]*look // open, and what the last look saw

	stop context.CancelFunc
	done chan struct{}
}

// look is what the reaper saw of a connection.
type look struct {
	n     uint64 // its count
	quiet bool   // and that it carried nothing since the look before
}

// New starts a Reaper of connections idle for after; nil when after is
// not positive (idle connections are kept). Close stops it.
func New(after time.Duration) *Reaper {
	if after <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Reaper{after: after, conns: map[*idleConn]*look{}, stop: cancel, done: make(chan struct{})}
	go r.run(ctx)
	return r
}

// Watch has the Reaper track the connections c dials from now on.
func (r *Reaper) Watch(c *redis.Client) {
	if r != nil {
		c.AddHook(r)
	}
}

// DialHook wraps each connection dialed in one that counts what it
// carries (a redis.Hook).
func (r *Reaper) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := next(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ic := &idleConn{Conn: conn, r: r}
		r.mu.Lock()
		r.conns[ic] = &look{}
		r.mu.Unlock()
		if sc, ok := conn.(syscall.Conn); ok {
			return sysIdleConn{ic, sc}, nil
		}
		return ic, nil
	}
}

func (r *Reaper) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (r *Reaper) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// run looks at the connections every half of after, and closes each that
// carried nothing in two intervals in a row (for after, at least), until
// ctx ends. A connection blocked in a read (a subscription's) is never
// closed: a pooled connection is read only after a command was written on
// it.
func (r *Reaper) run(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.after / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		for c, l := range r.conns {
			n := c.n.Load()
			switch {
			case n != l.n || c.reading.Load() > 0:
				l.n, l.quiet = n, false
			case !l.quiet:
				l.quiet = true
			case c.n.CompareAndSwap(n, n|reapBit): // nothing written or read since
				c.Conn.Close()
				delete(r.conns, c)
			}
		}
		r.mu.Unlock()
	}
}

// Close stops the Reaper; the clients close their connections.
func (r *Reaper) Close() {
	if r != nil {
		r.stop()
		<-r.done
	}
}

// idleConn is a connection that counts what it carries.
type idleConn struct {
	net.Conn
	r       *Reaper
	n       atomic.Uint64 // writes and reads; reapBit once the reaper closed it
	reading atomic.Int32  // reads in progress
}

func (c *idleConn) Write(b []byte) (int, error) {
	for {
		n := c.n.Load()
		if n&reapBit != 0 {
			return 0, errReaped
		}
		if c.n.CompareAndSwap(n, n+1) {
			break
		}
	}
	return c.Conn.Write(b)
}

func (c *idleConn) Read(b []byte) (int, error) {
	c.reading.Add(1)
	defer c.reading.Add(-1)
	c.n.Add(1) // after reading: the reaper sees one or the other
	return c.Conn.Read(b)
}

// Close closes the connection and forgets it.
func (c *idleConn) Close() error {
	c.r.mu.Lock()
	delete(c.r.conns, c)
	c.r.mu.Unlock()
	return c.Conn.Close()
}

// sysIdleConn is an idleConn over a TCP connection: it lets go-redis's
// pool look at the socket (syscall.Conn) before it hands the connection
// out, so one the reaper closed is replaced instead of failing a command.
type sysIdleConn struct {
	*idleConn
	sc syscall.Conn
}

func (c sysIdleConn) SyscallConn() (syscall.RawConn, error) { return c.sc.SyscallConn() }
