package tracking

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// trackingName is the client name of tracking connections (CLIENT LIST).
const trackingName = "shardsession-tracking"

// Stream keeps one shard's invalidation stream: a dedicated RESP3
// connection to the shard's primary in broadcast tracking mode
// (CLIENT TRACKING ON BCAST PREFIX <key prefix>), on which Redis pushes the
// name of every key with the prefix that is written, deleted, expired or
// evicted, whoever changed it. One connection per shard and node, whatever
// the number of cached sessions; the price is that every node hears of
// every write to the prefix.
//
// state is generation<<1 | up. It changes on every connect and every loss,
// so a read that started under one state and finishes under another is
// not cached: it may have missed an invalidation.
//
// Set the exported fields, then Run it; Up, State and Reset are safe to
// call from any goroutine meanwhile.
type Stream struct {
	// Client is the primary's go-redis options: address, credentials,
	// TLS, dialer and dial timeout are taken from it.
	Client *redis.Options
	// Prefix is the key prefix tracked.
	Prefix string
	// Health is the interval of the PINGs that tell a silent stream from
	// a dead one.
	Health time.Duration

	state atomic.Uint64

	mu   sync.Mutex
	conn net.Conn // the live connection, for reset

	// Invalidate is called with the keys Redis says changed; keys == nil
	// means everything (FLUSHALL).
	Invalidate func(keys []string)
	// Lost is called when the stream broke: forget everything cached.
	Lost func()
	// Refused, if set, is called when the server refuses HELLO or CLIENT
	// TRACKING (a wrong password, an ACL without CLIENT, a server before
	// 6.0); the stream retries with backoff.
	Refused func(err error)
}

// Up reports whether the stream is live, and the state to compare later.
func (t *Stream) Up() (state uint64, ok bool) {
	s := t.state.Load()
	return s, s&1 == 1
}

func (t *Stream) setUp(up bool) {
	gen := t.state.Load()>>1 + 1
	s := gen << 1
	if up {
		s |= 1
	}
	t.state.Store(s)
}

// Run keeps the stream up until ctx ends, reconnecting with backoff.
func (t *Stream) Run(ctx context.Context) {
	backoff := 10 * time.Millisecond
	for {
		connected := t.serve(ctx)
		t.setUp(false)
		t.Lost()
		if connected {
			backoff = 10 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// serve connects, turns tracking on and reads invalidations until the
// connection fails. It reports whether tracking was ever on.
func (t *Stream) serve(ctx context.Context) (connected bool) {
	conn, err := t.dial(ctx)
	if err != nil {
		return false
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	t.mu.Lock()
	t.conn = conn
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		t.conn = nil
		t.mu.Unlock()
	}()

	hello := []string{"HELLO", "3", "SETNAME", trackingName}
	if t.Client.Password != "" {
		user := t.Client.Username
		if user == "" {
			user = "default"
		}
		hello = append(hello[:2], "AUTH", user, t.Client.Password, "SETNAME", trackingName)
	}
	req := appendCommand(nil, hello...)
	req = appendCommand(req, "CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", t.Prefix)
	conn.SetDeadline(time.Now().Add(t.timeout()))
	if _, err := conn.Write(req); err != nil {
		return false
	}
	r := bufio.NewReader(conn)
	for range 2 {
		v, err := readReply(r)
		if err != nil {
			return false
		}
		if e, ok := v.(respError); ok {
			if t.Refused != nil {
				t.Refused(e)
			} // a wrong password, an ACL without CLIENT, a server before 6.0
			return false // retried with backoff
		}
	}
	conn.SetDeadline(time.Time{})
	t.setUp(true)

	done := make(chan struct{})
	defer close(done)
	go t.ping(conn, done)
	for {
		conn.SetReadDeadline(time.Now().Add(3 * t.Health))
		v, err := readRESP(r)
		if err != nil {
			return true
		}
		switch v := v.(type) {
		case respPush:
			if len(v) == 2 && v[0] == "invalidate" {
				t.Invalidate(stringsOf(v[1]))
			}
		case respError:
			return true
		}
	}
}

// Reset drops the connection, so that run reconnects (and the cache is
// flushed): Sentinel has put another node behind the primary's address,
// and the old one's stream says nothing of the new one's writes.
func (t *Stream) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.Close()
	}
}

// readReply reads the next reply, skipping pushes that arrive before it.
func readReply(r *bufio.Reader) (any, error) {
	for {
		v, err := readRESP(r)
		if _, push := v.(respPush); err != nil || !push {
			return v, err
		}
	}
}

// ping writes a PING every health interval, so that a connection that went
// silent (a partition rather than a reset) fails the read deadline.
func (t *Stream) ping(conn net.Conn, done <-chan struct{}) {
	tick := time.NewTicker(t.Health)
	defer tick.Stop()
	ping := appendCommand(nil, "PING")
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			conn.SetWriteDeadline(time.Now().Add(t.Health))
			if _, err := conn.Write(ping); err != nil {
				conn.Close()
				return
			}
		}
	}
}

func (t *Stream) timeout() time.Duration {
	if t.Client.DialTimeout > 0 {
		return t.Client.DialTimeout
	}
	return 5 * time.Second
}

// dial connects the way the shard's go-redis client does: its Dialer, or
// TCP (and TLS when configured) with its dial timeout.
func (t *Stream) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout())
	defer cancel()
	if t.Client.Dialer != nil {
		return t.Client.Dialer(ctx, "tcp", t.Client.Addr)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Client.Addr)
	if err != nil {
		return nil, fmt.Errorf("tracking %s: %w", t.Client.Addr, err)
	}
	if t.Client.TLSConfig != nil {
		tc := tls.Client(conn, t.Client.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
	return conn, nil
}

// stringsOf converts an invalidate message's key array; nil stays nil.
func stringsOf(v any) []string {
	items, ok := v.([]any)
	if !ok {
		return nil
	}
	keys := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			keys = append(keys, s)
		}
	}
	return keys
}

// State returns the stream's state (see Up), for a read that started under
// an earlier one to tell whether it may have missed an invalidation.
func (t *Stream) State() uint64 { return t.state.Load() }
