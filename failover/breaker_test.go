package failover

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newTestBreaker(opt BreakerOptions) (*Breaker, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	b := NewBreaker(opt)
	b.now = clk.now
	return b, clk
}

func TestBreakerStates(t *testing.T) {
	down := io.EOF
	type step struct {
		advance time.Duration
		allowed bool  // what Allow must say
		result  error // passed to Done when allowed
		state   State // after the step
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"successes keep it closed", []step{
			{allowed: true, state: Closed}, {allowed: true, result: redis.Nil, state: Closed},
		}},
		{"three failures open it", []step{
			{allowed: true, result: down, state: Closed},
			{allowed: true, result: down, state: Closed},
			{allowed: true, result: down, state: Open},
			{allowed: false, state: Open},
		}},
		{"a success resets the count", []step{
			{allowed: true, result: down}, {allowed: true, result: down},
			{allowed: true},
			{allowed: true, result: down}, {allowed: true, result: down},
		}},
		{"half-open probe success closes", []step{
			{allowed: true, result: down}, {allowed: true, result: down}, {allowed: true, result: down, state: Open},
			{advance: 250 * time.Millisecond, allowed: true, state: Closed},
			{allowed: true, state: Closed},
		}},
		{"failed probe reopens for twice as long", []step{
			{allowed: true, result: down}, {allowed: true, result: down}, {allowed: true, result: down, state: Open},
			{advance: 250 * time.Millisecond, allowed: true, result: down, state: Open},
			{advance: 250 * time.Millisecond, allowed: false, state: Open},
			{advance: 250 * time.Millisecond, allowed: true, state: Closed},
		}},
		{"reply errors are not failures", []step{
			{allowed: true, result: replyErr("WRONGTYPE x")}, {allowed: true, result: replyErr("NOREPLICAS x")},
			{allowed: true, result: replyErr("ERR x")},
		}},
		{"READONLY is a failure", []step{
			{allowed: true, result: replyErr("READONLY x")}, {allowed: true, result: replyErr("READONLY x")},
			{allowed: true, result: replyErr("READONLY x"), state: Open},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, clk := newTestBreaker(BreakerOptions{})
			for i, s := range tt.steps {
				clk.add(s.advance)
				err := b.Allow()
				if (err == nil) != s.allowed {
					t.Fatalf("step %d: Allow = %v, want allowed=%v", i, err, s.allowed)
				}
				if err != nil && !errors.Is(err, ErrCircuitOpen) {
					t.Fatalf("step %d: Allow = %v, want ErrCircuitOpen", i, err)
				}
				if err == nil {
					b.Done(s.result)
				}
				if got := b.State(); got != s.state {
					t.Fatalf("step %d: state %v, want %v", i, got, s.state)
				}
			}
		})
	}
}

// Only one probe goes through while half-open.
func TestBreakerSingleProbe(t *testing.T) {
	var changes []string
	b, clk := newTestBreaker(BreakerOptions{Failures: 1, OnStateChange: func(from, to State) {
		changes = append(changes, from.String()+"→"+to.String())
	}})
	b.Allow()
	b.Done(io.EOF)
	clk.add(time.Second)
	if err := b.Allow(); err != nil {
		t.Fatalf("first probe refused: %v", err)
	}
	if err := b.Allow(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("second concurrent probe = %v, want ErrCircuitOpen", err)
	}
	b.Done(nil)
	want := []string{"closed→open", "open→half-open", "half-open→closed"}
	if len(changes) != len(want) {
		t.Fatalf("state changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("state changes %v, want %v", changes, want)
		}
	}
}

// A command let through before a Reset is the previous node's: when it
// fails afterwards (its connection was closed by the switch), the breaker
// in front of the new node does not count it, and neither does a probe's.
func TestBreakerIgnoresOutcomesFromBeforeReset(t *testing.T) {
	b, clk := newTestBreaker(BreakerOptions{Failures: 1})
	var before []uint64
	for range 3 {
		epoch, err := b.allow()
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, epoch)
	}
	b.Reset() // a switch
	for _, epoch := range before {
		b.done(epoch, io.EOF)
	}
	if st := b.State(); st != Closed {
		t.Fatalf("state after the old node's commands failed = %v, want closed", st)
	}
	epoch, _ := b.allow()
	b.done(epoch, io.EOF)
	if st := b.State(); st != Open {
		t.Fatalf("state after the new node failed = %v, want open", st)
	}
	clk.add(time.Second)
	probe, err := b.allow()
	if err != nil || b.State() != HalfOpen {
		t.Fatalf("probe: %v, state %v", err, b.State())
	}
	b.Reset()
	b.done(probe, io.EOF) // the probe was sent to the node before the Reset
	if err := b.Allow(); err != nil {
		t.Fatalf("Allow after the old probe failed = %v", err)
	}
}

func TestBreakerTripResetDisabled(t *testing.T) {
	b, _ := newTestBreaker(BreakerOptions{})
	b.Trip()
	if err := b.Allow(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Allow after Trip = %v", err)
	}
	b.Reset()
	if err := b.Allow(); err != nil {
		t.Fatalf("Allow after Reset = %v", err)
	}
	var off *Breaker = NewBreaker(BreakerOptions{Failures: -1})
	if off != nil {
		t.Fatal("Failures < 0 must disable the breaker")
	}
	off.Trip()
	if err := off.Allow(); err != nil || off.State() != Closed {
		t.Fatal("a nil breaker must let everything through")
	}
}

type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		channel, payload string
		want             Event
		ok               bool
	}{
		{"+switch-master", "s0 127.0.0.1 6379 127.0.0.1 6380", Event{Kind: SwitchMaster, MasterName: "s0", Old: "127.0.0.1:6379", New: "127.0.0.1:6380"}, true},
		{"+odown", "master s1 10.0.0.2 7000 #quorum 2/2", Event{Kind: ObjectivelyDown, MasterName: "s1", Old: "10.0.0.2:7000"}, true},
		{"-odown", "master s1 10.0.0.2 7000", Event{Kind: BackUp, MasterName: "s1", Old: "10.0.0.2:7000"}, true},
		{"+odown", "slave 127.0.0.1:1 127.0.0.1 1 @ s0 127.0.0.1 2", Event{}, false},
		{"+switch-master", "s0 short", Event{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.channel+" "+tt.payload, func(t *testing.T) {
			got, ok := parseEvent(tt.channel, tt.payload)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("parseEvent = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// A caller whose context is already done when its command is sent says
// nothing about the node: however many there are, the breaker stays
// closed.
func TestBreakerIgnoresDeadContexts(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	b := NewBreaker(BreakerOptions{Failures: 1})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DisableIdentity: true})
	defer c.Close()
	c.AddHook(b.Hook())
	ctx := context.Background()
	dead, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	for range 5 {
		if err := c.Get(dead, "k").Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("GET with a dead context = %v", err)
		}
		if _, err := c.Pipelined(dead, func(p redis.Pipeliner) error { return p.Get(dead, "k").Err() }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("pipeline with a dead context = %v", err)
		}
	}
	if st := b.State(); st != Closed {
		t.Fatalf("breaker %v after commands with dead contexts, want closed", st)
	}
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after them = %v", err)
	}
}

// Commands sent with a Handshake context go around an open breaker and
// are not counted: an OnConnect's commands inside a half-open probe.
func TestBreakerLetsHandshakeBy(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	b := NewBreaker(BreakerOptions{Failures: 1})
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), DisableIdentity: true})
	defer c.Close()
	c.AddHook(b.Hook())
	b.Trip()
	ctx := context.Background()
	if err := c.Get(ctx, "k").Err(); !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("GET with the breaker open = %v, want ErrCircuitOpen", err)
	}
	if err := c.Get(Handshake(ctx), "k").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET with a Handshake context = %v, want redis.Nil", err)
	}
	if st := b.State(); st != Open {
		t.Fatalf("breaker %v after a handshake command, want still open", st)
	}
}
