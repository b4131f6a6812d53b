package tracking

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redisauth"
)

// trackingName is the client name of tracking connections (CLIENT LIST).
const trackingName = "shardsession-tracking"

// Stream is one shard's invalidation stream: a RESP3 connection to the
// shard's primary in Redis's default tracking mode (CLIENT TRACKING ON
// NOLOOP). Redis remembers the keys read on the connection and pushes the
// name of each when it is next written, deleted, expired or evicted by
// another connection; a key this node never read costs it nothing, so a
// write reaches only the nodes that hold the key.
//
// The near cache therefore reads the records it caches on the stream
// itself (Do, DoMulti), and writes there too where it can: NOLOOP keeps a
// node's own writes from coming back to it (a script's as well: Redis
// compares the connection that sent it), and every reply arrives in order
// with the invalidations, so a caller knows exactly which invalidations
// came before its command and which after.
//
// Set the exported fields, then Run it; Up, Fresh, Check, Do, DoMulti and
// Reset are safe to call from any goroutine meanwhile.
type Stream struct {
	// Client is the primary's go-redis options: address, credentials
	// (a credentials provider is asked on each new connection), TLS,
	// dialer and dial timeout are taken from it. OnConnect is not run:
	// the stream is not a go-redis connection.
	Client *redis.Options
	// Health is how long after the stream was last heard from a cached
	// key may be served without a check (Fresh, Check); a command waiting
	// three Health intervals for its reply breaks the connection.
	Health time.Duration

	up       atomic.Bool  // tracking is on and the connection live
	lastRead atomic.Int64 // unix ns of the last reply or push read

	cmu   sync.Mutex
	check *check // the Check under way, shared by its callers; nil if none

	mu   sync.Mutex
	conn net.Conn // the live connection, for reset

	wmu      sync.Mutex // orders writes to the connection with pending
	wconn    net.Conn   // the connection Do writes to; nil while down
	wbuf     []byte     // commands queued for wconn, in pending's order
	spare    []byte     // the buffer last written, for reuse
	flushing bool       // a caller of send is writing wbuf out
	pending  []*call    // commands queued or sent, oldest first, awaiting replies

	// Invalidate is called with the keys Redis says changed; keys == nil
	// means everything (FLUSHALL).
	Invalidate func(keys []string)
	// Lost is called when the stream broke: forget everything cached.
	Lost func()
	// Refused, if set, is called when the server refuses HELLO or CLIENT
	// TRACKING (a wrong password, an ACL without CLIENT, a server before
	// 6.0); the stream retries with backoff.
	Refused func(err error)
	// Failed, if set, is called with the error that ended a connection or
	// an attempt to make one (a refused dial, a broken socket), before
	// Lost; not when Run's context ends.
	Failed func(err error)

	// NoTracking makes the stream a RESP3 connection for Pub/Sub and
	// commands only, without CLIENT TRACKING: a sentinel's, say, which
	// has no tracking. Name is its client name (CLIENT SETNAME); default
	// "shardsession-tracking".
	NoTracking bool
	Name       string

	// Message, if set, is called with each Pub/Sub message of the
	// channels subscribed with Subscribe, and Subscribed with each
	// channel whose subscription the server confirmed (after every
	// reconnection too), from the goroutine that reads the stream. RESP3
	// lets one connection subscribe and run commands, so a node's events
	// need no connection of their own.
	Message    func(channel, payload string)
	Subscribed func(channel string)

	smu      sync.Mutex
	channels map[string]int // subscribed channel → how many asked for it
}

// Up reports whether the stream is live: tracking on, connection up.
func (t *Stream) Up() bool { return t.up.Load() }

// Run keeps the stream up until ctx ends, reconnecting with backoff.
func (t *Stream) Run(ctx context.Context) {
	backoff := 10 * time.Millisecond
	for {
		connected := t.serve(ctx)
		t.up.Store(false)
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
		t.failed(ctx, err)
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

	user, pass, err := redisauth.Credentials(ctx, t.Client)
	if err != nil {
		if t.Refused != nil {
			t.Refused(err)
		}
		return false
	}
	name := t.Name
	if name == "" {
		name = trackingName
	}
	hello := []string{"HELLO", "3", "SETNAME", name}
	if pass != "" {
		if user == "" {
			user = "default"
		}
		hello = append(hello[:2], "AUTH", user, pass, "SETNAME", name)
	}
	req := appendCommand(nil, hello...)
	replies := 1
	if !t.NoTracking {
		req = appendCommand(req, "CLIENT", "TRACKING", "ON", "NOLOOP")
		replies++
	}
	conn.SetDeadline(time.Now().Add(t.timeout()))
	if _, err := conn.Write(req); err != nil {
		t.failed(ctx, err)
		return false
	}
	r := bufio.NewReader(conn)
	for range replies {
		v, err := readReply(r)
		if err != nil {
			t.failed(ctx, err)
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
	t.wmu.Lock()
	t.wconn, t.wbuf = conn, t.wbuf[:0] // what was queued for the last connection failed with it
	t.wmu.Unlock()
	defer t.failPending()
	if chans := t.subscribed(); len(chans) > 0 {
		t.send(nil, append([]string{"SUBSCRIBE"}, chans...))
	}
	t.up.Store(true)

	done := make(chan struct{})
	defer close(done)
	go t.watchdog(done, conn)
	for {
		v, err := readRESP(r)
		if err != nil {
			t.failed(ctx, err)
			return true
		}
		t.lastRead.Store(time.Now().UnixNano())
		if p, ok := v.(respPush); ok {
			t.push(p)
			continue
		}
		if !t.deliver(v) {
			return true // a reply nobody asked for: the stream is out of step
		}
	}
}

// failed reports err to Failed, unless ctx has ended (Run is stopping).
func (t *Stream) failed(ctx context.Context, err error) {
	if t.Failed != nil && ctx.Err() == nil {
		t.Failed(err)
	}
}

// push handles an out-of-band message: an invalidation, a Pub/Sub
// message, a subscription's confirmation.
func (t *Stream) push(p respPush) {
	kind, _ := p[0].(string)
	switch {
	case kind == "invalidate" && len(p) == 2:
		t.Invalidate(stringsOf(p[1]))
	case kind == "message" && len(p) == 3 && t.Message != nil:
		ch, _ := p[1].(string)
		payload, _ := p[2].(string)
		t.Message(ch, payload)
	case kind == "subscribe" && len(p) == 3 && t.Subscribed != nil:
		ch, _ := p[1].(string)
		t.Subscribed(ch)
	}
}

// Subscribe subscribes the stream to channels (Message, Subscribed): now
// if it is up, and again on every connection it makes until as many
// Unsubscribe calls have released them.
func (t *Stream) Subscribe(channels ...string) {
	t.smu.Lock()
	defer t.smu.Unlock()
	if t.channels == nil {
		t.channels = map[string]int{}
	}
	var fresh []string
	for _, ch := range channels {
		if t.channels[ch]++; t.channels[ch] == 1 {
			fresh = append(fresh, ch)
		}
	}
	if len(fresh) > 0 {
		t.send(nil, append([]string{"SUBSCRIBE"}, fresh...)) // ErrDown: the next connection subscribes
	}
}

// Unsubscribe releases one Subscribe of channels; the stream unsubscribes
// from those no one holds any more.
func (t *Stream) Unsubscribe(channels ...string) {
	t.smu.Lock()
	defer t.smu.Unlock()
	var gone []string
	for _, ch := range channels {
		if t.channels[ch]--; t.channels[ch] <= 0 {
			delete(t.channels, ch)
			gone = append(gone, ch)
		}
	}
	if len(gone) > 0 {
		t.send(nil, append([]string{"UNSUBSCRIBE"}, gone...))
	}
}

// subscribed returns the channels the stream is to be subscribed to.
func (t *Stream) subscribed() []string {
	t.smu.Lock()
	defer t.smu.Unlock()
	chans := make([]string, 0, len(t.channels))
	for ch := range t.channels {
		chans = append(chans, ch)
	}
	return chans
}

// ErrDown is returned by Do when the stream is not up: the caller sends
// its command another way.
var ErrDown = errors.New("tracking: stream not up")

// ErrLost is wrapped by Do's error when the connection broke after the
// command was sent and before its reply: whether it ran is not known.
var ErrLost = errors.New("tracking: connection lost before the reply")

// call is commands sent on the stream, waiting for their n replies.
type call struct {
	n       int
	replies []any
	after   func(replies []any)
	done    chan result
	queued  time.Time
}

type result struct {
	replies []any
	err     error
}

// Do sends args as one command on the stream's connection and waits for
// its reply or the end of ctx; an error reply is returned as the error.
// after, if not nil, is called with the reply as DoMulti says.
func (t *Stream) Do(ctx context.Context, after func(reply any), args ...string) (any, error) {
	var each func([]any)
	if after != nil {
		each = func(r []any) { after(r[0]) }
	}
	replies, err := t.DoMulti(ctx, each, args)
	if err != nil {
		return nil, err
	}
	if e, ok := replies[0].(respError); ok {
		return nil, e
	}
	return replies[0], nil
}

// DoMulti sends cmds in one write on the stream's connection and waits for
// their replies (error replies among them as values) or the end of ctx.
// after, if not nil, is called with the replies by the goroutine that reads
// the stream: after every invalidation Redis pushed before the last reply,
// before any pushed after it. DoMulti fails with ErrDown, sending nothing,
// while the stream is down, and with an error wrapping ErrLost when the
// connection broke before the replies; commands whose ctx ends first may
// still run, and after still sees their replies.
func (t *Stream) DoMulti(ctx context.Context, after func(replies []any), cmds ...[]string) ([]any, error) {
	c := &call{n: len(cmds), replies: make([]any, 0, len(cmds)), after: after, done: make(chan result, 1)}
	if err := t.send(c, cmds...); err != nil {
		return nil, err
	}
	select {
	case r := <-c.done:
		return r.replies, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// send queues cmds for the connection and c for their replies, in one
// step so that the queue's order is the connection's. The caller that finds
// no write in progress writes out what is queued, its own commands and any
// that others queue meanwhile, until nothing is left: a lone caller's
// commands go out at once, and callers that arrive during a write share the
// next one instead of taking turns for a system call each.
func (t *Stream) send(c *call, cmds ...[]string) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.wconn == nil {
		return ErrDown
	}
	for _, args := range cmds {
		t.wbuf = appendCommand(t.wbuf, args...)
	}
	if c != nil { // nil: a command answered by pushes only (SUBSCRIBE)
		c.queued = time.Now()
		t.pending = append(t.pending, c)
	}
	if t.flushing {
		return nil // the writer at work sends them
	}
	t.flushing = true
	for len(t.wbuf) > 0 && t.wconn != nil {
		buf, conn := t.wbuf, t.wconn
		t.wbuf = t.spare[:0]
		t.wmu.Unlock()
		conn.SetWriteDeadline(time.Now().Add(t.timeout()))
		if _, err := conn.Write(buf); err != nil {
			conn.Close() // the reader fails every pending call, c included
		}
		t.wmu.Lock()
		t.spare = buf[:0]
	}
	t.flushing = false
	return nil
}

// deliver hands a reply to the oldest pending call; false if there is none.
func (t *Stream) deliver(v any) bool {
	t.wmu.Lock()
	if len(t.pending) == 0 {
		t.wmu.Unlock()
		return false
	}
	c := t.pending[0]
	if c.n > 1 && len(c.replies) < c.n-1 {
		c.replies = append(c.replies, v) // more to come
		t.wmu.Unlock()
		return true
	}
	t.pending[0] = nil
	t.pending = t.pending[1:]
	t.wmu.Unlock()
	c.replies = append(c.replies, v)
	if c.after != nil {
		c.after(c.replies)
	}
	if c.done != nil {
		c.done <- result{c.replies, nil}
	}
	return true
}

// failPending ends every call still waiting when the connection is gone.
func (t *Stream) failPending() {
	t.wmu.Lock()
	pending := t.pending
	t.pending, t.wconn = nil, nil
	t.wmu.Unlock()
	for _, c := range pending {
		if c.done != nil {
			c.done <- result{nil, ErrLost}
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

// Heard returns when the stream last read a reply or a push.
func (t *Stream) Heard() time.Time { return time.Unix(0, t.lastRead.Load()) }

// Fresh reports whether the stream is up and was heard from (a reply, an
// invalidation) within the Health interval before now: every invalidation
// Redis pushed until then has been applied, and the server was alive.
func (t *Stream) Fresh(now time.Time) bool {
	return t.up.Load() && now.UnixNano()-t.lastRead.Load() < int64(t.Health)
}

// check is a Check under way: its PING's result, once done is closed.
type check struct {
	done chan struct{}
	err  error
}

// Check makes the stream fresh: it sends a PING and waits, for at most a
// Health interval or until ctx ends, for the reply, which Redis sends after
// every invalidation it pushed before. When it returns nil, what the cache
// holds from this stream is as current as a read made now. Callers that
// come while a check is under way share it.
//
// This is the stream's only health check (besides the one a Watch on it
// makes after 30 s of quiet): an idle stream costs the server nothing, and
// one that serves reads needs none. A silent one is checked when a cached
// key is about to be served from it; if it does not answer, the caller
// reads without the cache and the watchdog breaks the connection (and the
// cache is flushed) when the PING has waited three Health intervals.
func (t *Stream) Check(ctx context.Context) error {
	t.cmu.Lock()
	ck := t.check
	if ck == nil {
		ck = &check{done: make(chan struct{})}
		c := &call{n: 1, done: make(chan result, 1)}
		if err := t.send(c, []string{"PING"}); err != nil {
			t.cmu.Unlock()
			return err
		}
		t.check = ck
		go func() {
			r := <-c.done
			t.cmu.Lock()
			t.check = nil
			t.cmu.Unlock()
			ck.err = r.err
			close(ck.done)
		}()
	}
	t.cmu.Unlock()
	wait := time.NewTimer(t.Health)
	defer wait.Stop()
	select {
	case <-ck.done:
		return ck.err
	case <-wait.C:
		return fmt.Errorf("tracking %s: no reply to PING in %v", t.Client.Addr, t.Health)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// CheckQuiet checks the stream (Check) when it is up and has been silent
// for quiet, and returns the check's error; nil when none was due. It is
// the health check of a stream that carries subscriptions, which nothing
// else may read from for a long time.
func (t *Stream) CheckQuiet(ctx context.Context, quiet time.Duration) error {
	if !t.Up() || time.Since(t.Heard()) < quiet {
		return nil
	}
	return t.Check(ctx)
}

// watchdog breaks the connection when the oldest command sent on it has
// waited three Health intervals for its reply: the server is hung or the
// network path silently gone. (No read deadline: an idle stream is
// silent by design.)
func (t *Stream) watchdog(done <-chan struct{}, conn net.Conn) {
	tick := time.NewTicker(max(t.Health/2, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			t.wmu.Lock()
			late := len(t.pending) > 0 && time.Since(t.pending[0].queued) > 3*t.Health
			t.wmu.Unlock()
			if late {
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
	if cfg := t.Client.TLSConfig; cfg != nil {
		if cfg.ServerName == "" && !cfg.InsecureSkipVerify {
			// As tls.Dial (and so go-redis) does: verify the host dialled.
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(t.Client.Addr)
		}
		tc := tls.Client(conn, cfg)
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
