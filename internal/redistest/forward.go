package redistest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// maxForwarded bounds the connections a Forwarder relays at once (two
// goroutines each); a connection beyond it is closed at once, as a
// provider's endpoint refuses clients over its limit.
const maxForwarded = 512

// forwardDialTimeout bounds the dial to the target of one connection.
const forwardDialTimeout = time.Second

// Forwarder is a TCP relay on 127.0.0.1 that stands for a managed Redis
// service's primary endpoint: clients connect to its fixed Addr, and it
// relays each connection to its current target. Repoint does what the
// provider does on a failover: new connections go to the new node and the
// existing ones are closed, so clients reconnect to the same address and
// reach another server. All methods are safe for concurrent use.
type Forwarder struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	conns  map[*relay]struct{}
	closed bool

	wg sync.WaitGroup // the accept loop and every relay's goroutines
}

// relay is one client connection and its connection to the target.
type relay struct{ client, server net.Conn }

func (r *relay) close() {
	r.client.Close()
	if r.server != nil {
		r.server.Close()
	}
}

// StartForwarder listens on a free loopback port and relays every
// connection to target ("host:port") until Close.
func StartForwarder(target string) (*Forwarder, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("redistest: forwarder target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("redistest: forwarder: %w", err)
	}
	f := &Forwarder{ln: ln, target: target, conns: map[*relay]struct{}{}}
	f.wg.Go(f.accept)
	return f, nil
}

// NewForwarder starts a Forwarder to target for a test and closes it in
// t.Cleanup.
func NewForwarder(t testing.TB, target string) *Forwarder {
	t.Helper()
	f, err := StartForwarder(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Addr returns the forwarder's fixed address, "127.0.0.1:port".
func (f *Forwarder) Addr() string { return f.ln.Addr().String() }

// Target returns the address new connections are relayed to.
func (f *Forwarder) Target() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.target
}

// Repoint sends new connections to target and closes every connection
// relayed so far, as a provider repoints its endpoint after a failover.
func (f *Forwarder) Repoint(target string) {
	f.mu.Lock()
	f.target = target
	old := f.conns
	f.conns = map[*relay]struct{}{}
	f.mu.Unlock()
	for r := range old {
		r.close()
	}
}

// Retarget sends new connections to target and leaves the existing ones
// to the node they reach, as a change of the endpoint's DNS record does:
// a client's pooled connections keep talking to the old node.
func (f *Forwarder) Retarget(target string) {
	f.mu.Lock()
	f.target = target
	f.mu.Unlock()
}

// Conns returns how many connections are being relayed.
func (f *Forwarder) Conns() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}

// Close stops listening, closes every relayed connection and waits for
// the forwarder's goroutines to end. It is idempotent.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.closed = true
	old := f.conns
	f.conns = map[*relay]struct{}{}
	f.mu.Unlock()
	err := f.ln.Close()
	for r := range old {
		r.close()
	}
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// accept relays connections until the listener is closed.
func (f *Forwarder) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed || len(f.conns) >= maxForwarded {
			f.mu.Unlock()
			c.Close()
			continue
		}
		r := &relay{client: c}
		f.conns[r] = struct{}{}
		target := f.target
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(r, target) })
	}
}

// serve dials target for r and copies both ways until either side ends,
// then closes both.
func (f *Forwarder) serve(r *relay, target string) {
	defer f.forget(r)
	s, err := net.DialTimeout("tcp", target, forwardDialTimeout)
	if err != nil {
		r.client.Close() // the endpoint's node is down: the client sees EOF
		return
	}
	f.mu.Lock()
	if _, live := f.conns[r]; !live { // repointed or closed while dialing
		f.mu.Unlock()
		s.Close()
		r.client.Close()
		return
	}
	r.server = s
	f.mu.Unlock()
	done := make(chan struct{})
	f.wg.Go(func() {
		defer close(done)
		io.Copy(s, r.client)
		s.Close()
	})
	io.Copy(r.client, s)
	r.client.Close()
	s.Close()
	<-done
}

// forget drops r from the live connections and closes it.
func (f *Forwarder) forget(r *relay) {
	f.mu.Lock()
	delete(f.conns, r)
	f.mu.Unlock()
	r.close()
}
