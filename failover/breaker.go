package failover

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// BreakerOptions configure a Breaker. The zero value is a working breaker.
type BreakerOptions struct {
	// Failures is the number of consecutive failed commands that opens the
	// breaker. Default 3; a negative value disables the breaker.
	Failures int
	// Backoff is how long the breaker stays open the first time. Each failed
	// half-open probe doubles it, up to MaxBackoff. Default 250 ms.
	Backoff time.Duration
	// MaxBackoff bounds the open window. Default 2 s: a promoted replica is
	// found at most this long after Sentinel announces it, even without the
	// +switch-master event.
	MaxBackoff time.Duration
	// IsFailure says whether a command's error means the node failed, as
	// opposed to the command being wrong. Default IsNodeFailure.
	IsFailure func(error) bool
	// OnStateChange, if set, is called (outside the breaker's lock) each
	// time the breaker opens, half-opens or closes.
	OnStateChange func(from, to State)
}

func (o *BreakerOptions) init() {
	if o.Failures == 0 {
		o.Failures = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(2*time.Second, o.Backoff)
	}
	if o.IsFailure == nil {
		o.IsFailure = IsNodeFailure
	}
}

// State is a breaker's state.
type State int

const (
	// Closed lets every command through.
	Closed State = iota
	// Open fails every command at once with ErrCircuitOpen.
	Open
	// HalfOpen lets one probe through; its outcome closes or reopens the
	// breaker.
	HalfOpen
)

func (s State) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return "unknown"
}

// Breaker is the circuit breaker of one node. It is safe for concurrent
// use. A nil *Breaker lets everything through.
type Breaker struct {
	opt BreakerOptions
	now func() time.Time

	mu        sync.Mutex
	state     State
	failures  int
	backoff   time.Duration
	openUntil time.Time
	probing   bool
	epoch     uint64 // counts Resets: an outcome is the node's it was sent to
}

// NewBreaker returns a closed breaker, or nil when opt.Failures < 0.
func NewBreaker(opt BreakerOptions) *Breaker {
	if opt.Failures < 0 {
		return nil
	}
	opt.init()
	return &Breaker{opt: opt, now: time.Now, backoff: opt.Backoff}
}

// Allow reports whether a command may be sent now. It returns
// ErrCircuitOpen while the breaker is open, and also in half-open state
// while another caller's probe is in flight. A caller that got nil must
// report the outcome with Done.
func (b *Breaker) Allow() error {
	_, err := b.allow()
	return err
}

// Done records the outcome of a command that Allow let through.
func (b *Breaker) Done(err error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	epoch := b.epoch
	b.mu.Unlock()
	b.done(epoch, err)
}

// allow is Allow, which also returns the breaker's epoch for done.
func (b *Breaker) allow() (epoch uint64, err error) {
	if b == nil {
		return 0, nil
	}
	b.mu.Lock()
	epoch = b.epoch
	var change func()
	defer func() {
		b.mu.Unlock()
		if change != nil {
			change()
		}
	}()
	switch b.state {
	case Closed:
		return epoch, nil
	case Open:
		if b.now().Before(b.openUntil) {
			return epoch, ErrCircuitOpen
		}
		change = b.setLocked(HalfOpen)
		b.probing = true
		return epoch, nil
	default: // HalfOpen
		if b.probing {
			return epoch, ErrCircuitOpen
		}
		b.probing = true
		return epoch, nil
	}
}

// done records the outcome of a command that allow let through in epoch.
// The outcome of one sent before the last Reset is dropped: it is the
// node's that was behind the breaker then. A switch closes the deposed
// primary's connections, and the commands waiting on them fail after the
// breaker was reset for the new one; counted, three of them would open the
// breaker of a node that answers.
func (b *Breaker) done(epoch uint64, err error) {
	if b == nil {
		return
	}
	failed := err != nil && b.opt.IsFailure(err)
	b.mu.Lock()
	if epoch != b.epoch {
		b.mu.Unlock()
		return
	}
	var change func()
	switch {
	case !failed:
		b.failures = 0
		b.backoff = b.opt.Backoff
		b.probing = false
		if b.state != Closed {
			change = b.setLocked(Closed)
		}
	case b.state == HalfOpen:
		b.probing = false
		b.backoff = min(2*b.backoff, b.opt.MaxBackoff)
		change = b.openLocked()
	default:
		b.failures++
		if b.state == Closed && b.failures >= b.opt.Failures {
			change = b.openLocked()
		}
	}
	b.mu.Unlock()
	if change != nil {
		change()
	}
}

// Trip opens the breaker now, as if the failure threshold had been reached:
// Sentinel said the node is down, so no request needs to find out by
// waiting for a timeout.
func (b *Breaker) Trip() {
	if b == nil {
		return
	}
	b.mu.Lock()
	change := b.openLocked()
	b.mu.Unlock()
	if change != nil {
		change()
	}
}

// Reset closes the breaker and forgets past failures: the node behind it
// changed (a new primary was promoted) or is known to be back. The
// commands its Hook let through before Reset are not counted when they
// end: their outcome is the previous node's.
func (b *Breaker) Reset() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.failures, b.probing, b.backoff = 0, false, b.opt.Backoff
	b.epoch++
	var change func()
	if b.state != Closed {
		change = b.setLocked(Closed)
	}
	b.mu.Unlock()
	if change != nil {
		change()
	}
}

// State returns the breaker's current state. An open breaker whose window
// has passed reports HalfOpen.
func (b *Breaker) State() State {
	if b == nil {
		return Closed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == Open && !b.now().Before(b.openUntil) {
		return HalfOpen
	}
	return b.state
}

// openLocked opens the breaker for the current backoff. b.mu must be held.
func (b *Breaker) openLocked() func() {
	b.openUntil = b.now().Add(b.backoff)
	b.failures = 0
	if b.state == Open {
		return nil
	}
	return b.setLocked(Open)
}

// setLocked changes the state and returns the notification to run once
// b.mu is released. b.mu must be held.
func (b *Breaker) setLocked(to State) func() {
	from := b.state
	b.state = to
	if b.opt.OnStateChange == nil || from == to {
		return nil
	}
	return func() { b.opt.OnStateChange(from, to) }
}

// Hook returns a go-redis hook that puts the breaker in front of every
// command and pipeline of the client it is added to (client.AddHook).
func (b *Breaker) Hook() redis.Hook { return breakerHook{b} }

type breakerHook struct{ b *Breaker }

func (h breakerHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h breakerHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if passesBy(ctx, cmd) {
			return next(ctx, cmd)
		}
		epoch, err := h.b.allow()
		if err != nil {
			cmd.SetErr(err)
			return err
		}
		err = next(ctx, cmd)
		h.b.done(epoch, err)
		return err
	}
}

func (h breakerHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if passesBy(ctx, cmds...) {
			return next(ctx, cmds)
		}
		epoch, err := h.b.allow()
		if err != nil {
			for _, cmd := range cmds {
				cmd.SetErr(err)
			}
			return err
		}
		err = next(ctx, cmds)
		h.b.done(epoch, firstNodeFailure(err, cmds))
		return err
	}
}

// passesBy reports whether cmds go around the breaker, neither gated nor
// counted: go-redis's connection handshake (see handshake), and commands
// whose context is already done when they are sent. go-redis fails those
// at once, and that says nothing about the node. Counted, they would let
// one slow shard open the breakers of healthy ones: a load that waited out
// its deadline on a shard in failover goes on to check the revocation
// journal on the other shards with that dead context (found by the
// container chaos scenarios).
func passesBy(ctx context.Context, cmds ...redis.Cmder) bool {
	return ctx.Err() != nil || ctx.Value(handshakeKey{}) != nil || len(cmds) > 0 && all(cmds, handshake)
}

type handshakeKey struct{}

// Handshake returns ctx marked so that the commands sent with it go around
// every Breaker, neither gated nor counted, like go-redis's own connection
// set-up: for the commands an OnConnect sends on a new connection (package
// shard asks the server who it is there). They run inside the command that
// needed the connection, which may be a half-open breaker's single probe:
// gated, they would fail that probe, and the breaker would never close.
func Handshake(ctx context.Context) context.Context {
	return context.WithValue(ctx, handshakeKey{}, true)
}

// handshake reports whether cmd is one go-redis sends while it sets up a
// new connection. go-redis runs those through the client's hooks too,
// inside the command that needed the connection: gating them would make a
// half-open probe fail its own handshake, and the breaker would never close.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello", "auth", "select", "client", "readonly":
		return true
	}
	return false
}

func all(cmds []redis.Cmder, f func(redis.Cmder) bool) bool {
	for _, c := range cmds {
		if !f(c) {
			return false
		}
	}
	return true
}

// firstNodeFailure returns err, or the first command error of a pipeline
// that returned none (a reply error such as READONLY is per command).
func firstNodeFailure(err error, cmds []redis.Cmder) error {
	if err != nil {
		return err
	}
	for _, c := range cmds {
		if e := c.Err(); e != nil && !errors.Is(e, redis.Nil) {
			return e
		}
	}
	return nil
}

// nodeReplies are error replies that mean the node cannot serve now.
// NOREPLICAS is not one: a primary refusing writes for lack of replicas
// still serves reads.
var nodeReplies = []string{"LOADING", "READONLY", "MASTERDOWN"}

// IsNodeFailure is the default BreakerOptions.IsFailure: network errors,
// EOF, timeouts, a closed client's errors, and replies that say the node
// cannot serve now. redis.Nil and other replies (the node answered) are not
// failures; neither is the caller's own context being canceled.
func IsNodeFailure(err error) bool {
	var netErr net.Error
	var redisErr redis.Error
	switch {
	case err == nil, errors.Is(err, redis.Nil), errors.Is(err, context.Canceled):
		return false
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, net.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		strings.Contains(err.Error(), "EOF"),
		strings.Contains(err.Error(), "sentinels specified in configuration are unreachable"):
		return true
	case errors.As(err, &redisErr):
		msg := redisErr.Error()
		for _, p := range nodeReplies {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// Anything else from the client (dial errors wrapped by go-redis, pool
	// errors) is the node's, not the command's.
	return true
}
