package shard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// endpointRig is a static shard whose Addr is a forwarder (a managed
// service's primary endpoint) in front of a primary with one replica,
// and the failover events the shard reported.
type endpointRig struct {
	primary, replica *redistest.Server
	fwd              *redistest.Forwarder
	sh               *shard.Shard

	mu     sync.Mutex
	events []failover.Event
}

// newEndpointRig starts the rig; client is the shard's client template
// (nil: defaults). The breaker is off, so that each test sees the errors
// themselves.
func newEndpointRig(t *testing.T, client *redis.Options) *endpointRig {
	t.Helper()
	return newEndpointRigWith(t, shard.Options{Client: client, Breaker: failover.BreakerOptions{Failures: -1}})
}

// newEndpointRigWith is newEndpointRig with opt's settings; its Name, Addr
// and Replicas are the rig's.
func newEndpointRigWith(t *testing.T, opt shard.Options) *endpointRig {
	t.Helper()
	r := &endpointRig{primary: redistest.NewServer(t, redistest.Options{Name: "ep-primary"})}
	r.replica = redistest.NewServer(t, redistest.Options{Name: "ep-replica", ReplicaOf: r.primary.Addr()})
	r.fwd = redistest.NewForwarder(t, r.primary.Addr())
	opt.Name, opt.Addr, opt.Replicas = "s0", r.fwd.Addr(), []string{r.replica.Addr()}
	sh, err := shard.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	sh.OnFailover(func(ev failover.Event) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.mu.Unlock()
	})
	r.sh = sh
	if err := sh.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	return r
}

// seen returns the events reported so far.
func (r *endpointRig) seen() []failover.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]failover.Event(nil), r.events...)
}

// runID returns srv's run_id, asked directly.
func runID(t *testing.T, srv *redistest.Server) string {
	t.Helper()
	c := srv.Client()
	defer c.Close()
	raw, err := c.Info(t.Context(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(raw) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v
		}
	}
	t.Fatalf("%s: no run_id in INFO server", srv.Name)
	return ""
}

// replicaOf sends REPLICAOF to srv: "NO ONE" promotes it.
func replicaOf(t *testing.T, srv *redistest.Server, primary string) {
	t.Helper()
	c := srv.Client()
	defer c.Close()
	args := []any{"REPLICAOF", "NO", "ONE"}
	if primary != "" {
		host, port, _ := strings.Cut(primary, ":")
		args = []any{"REPLICAOF", host, port}
	}
	if err := c.Do(t.Context(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}

// pingThrough polls until the shard's primary answers through the endpoint.
func pingThrough(t *testing.T, sh *shard.Shard) {
	t.Helper()
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error { return sh.Ping(ctx) })
}

// What the endpoint does decides whether the shard sees a switch: a
// reconnection to the same server is none; a promoted replica behind the
// address is one; so is a restart of the server (a new run_id), on
// purpose: it may have lost its last writes, and the reactions to a
// switch (the journal's replay, the near cache's flush) are idempotent.
func TestEndpointSwitchOrNot(t *testing.T) {
	tests := []struct {
		name     string
		do       func(t *testing.T, r *endpointRig) *redistest.Server // returns the node now behind the address
		switches int64
	}{
		{"reconnect to the same server", func(t *testing.T, r *endpointRig) *redistest.Server {
			r.fwd.Repoint(r.primary.Addr()) // closes every connection
			return r.primary
		}, 0},
		{"restart of the server", func(t *testing.T, r *endpointRig) *redistest.Server {
			if err := r.primary.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := r.primary.Restart(t.Context()); err != nil {
				t.Fatal(err)
			}
			return r.primary
		}, 1},
		{"repoint to the promoted replica", func(t *testing.T, r *endpointRig) *redistest.Server {
			replicaOf(t, r.replica, "")
			r.fwd.Repoint(r.replica.Addr())
			return r.replica
		}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newEndpointRig(t, nil)
			before := runID(t, r.primary)
			now := tt.do(t, r)
			pingThrough(t, r.sh)
			st := r.sh.Stats()
			if st.Switches != tt.switches {
				t.Fatalf("Switches = %d, want %d", st.Switches, tt.switches)
			}
			evs := r.seen()
			if int64(len(evs)) != tt.switches {
				t.Fatalf("events %+v, want %d", evs, tt.switches)
			}
			if tt.switches == 0 {
				if !r.sh.LastSwitch().IsZero() {
					t.Errorf("LastSwitch = %v, want zero", r.sh.LastSwitch())
				}
				return
			}
			want := failover.Event{Kind: failover.SwitchMaster, MasterName: "s0", Old: before, New: runID(t, now)}
			if got := evs[0]; got.Kind != want.Kind || got.MasterName != want.MasterName || got.Old != want.Old || got.New != want.New {
				t.Errorf("event %+v, want %+v", got, want)
			}
			if r.sh.LastSwitch().IsZero() {
				t.Error("LastSwitch is zero after a switch")
			}
		})
	}
}

// Every pooled connection reconnects at once after a repoint: the shard
// reacts to the switch once.
func TestEndpointOneSwitchForManyConnections(t *testing.T) {
	const n = 16
	r := newEndpointRig(t, &redis.Options{PoolSize: n, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	ctx := t.Context()
	// Fill the pool: n connections, each checked against the primary.
	conns := make([]*redis.Conn, n)
	for i := range conns {
		conns[i] = r.sh.Primary().Conn()
		if err := conns[i].Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range conns {
		c.Close()
	}
	replicaOf(t, r.replica, "")
	r.fwd.Repoint(r.replica.Addr())
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
				c := r.sh.Primary().Conn()
				defer c.Close()
				return c.Ping(ctx).Err()
			})
		})
	}
	wg.Wait()
	if st := r.sh.Stats(); st.Switches != 1 {
		t.Fatalf("Switches = %d after %d connections reconnected, want 1", st.Switches, n)
	}
	if evs := r.seen(); len(evs) != 1 {
		t.Fatalf("events %+v, want one", evs)
	}
}

// After a switch, a connection that the endpoint leads back to the
// replaced primary (a stale DNS answer, a split brain) or to a node that
// is a replica is refused with ErrNotPrimary, and is no new switch.
func TestEndpointRefusesDeposedAndReplica(t *testing.T) {
	r := newEndpointRig(t, nil)
	replicaOf(t, r.replica, "")
	r.fwd.Repoint(r.replica.Addr())
	pingThrough(t, r.sh)

	notPrimary := func(what string) {
		t.Helper()
		redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
			err := r.sh.Ping(ctx)
			if !errors.Is(err, shard.ErrNotPrimary) || !errors.Is(err, shard.ErrUnavailable) {
				return fmt.Errorf("%s: Ping = %v, want ErrNotPrimary and ErrUnavailable", what, err)
			}
			return nil
		})
	}
	r.fwd.Repoint(r.primary.Addr()) // the old primary, still a primary
	notPrimary("deposed primary")
	replicaOf(t, r.primary, r.replica.Addr())
	r.fwd.Repoint(r.primary.Addr()) // now the new primary's replica
	notPrimary("replica")
	if st := r.sh.Stats(); st.Switches != 1 {
		t.Fatalf("Switches = %d, want 1", st.Switches)
	}
}

// When only the endpoint's DNS record changes, pooled connections still
// reach the demoted node, and a write there is answered READONLY: the
// shard then checks the endpoint on a fresh connection by itself, so the
// switch is seen without waiting for the pool to redial.
func TestEndpointReadOnlyPromptsCheck(t *testing.T) {
	r := newEndpointRig(t, &redis.Options{MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	ctx := t.Context()
	replicaOf(t, r.replica, "")
	replicaOf(t, r.primary, r.replica.Addr())
	r.fwd.Retarget(r.replica.Addr()) // the pooled connection stays on the old node
	if err := r.sh.Primary().Set(ctx, "k", "v", 0).Err(); !redis.IsReadOnlyError(err) {
		t.Fatalf("SET on the demoted node = %v, want READONLY", err)
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if n := r.sh.Stats().Switches; n != 1 {
			return fmt.Errorf("Switches = %d, want 1", n)
		}
		return nil
	})
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		return r.sh.Primary().Set(ctx, "k", "v", 0).Err()
	})
}

// The template's own OnConnect still runs on each new connection of the
// primary, before the check, and its error fails the connection.
func TestEndpointKeepsTemplateOnConnect(t *testing.T) {
	var calls atomic.Int64
	var fail atomic.Bool
	errHook := errors.New("template OnConnect refused")
	r := newEndpointRig(t, &redis.Options{DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		OnConnect: func(ctx context.Context, cn *redis.Conn) error {
			calls.Add(1)
			if fail.Load() {
				return errHook
			}
			return cn.ClientSetName(ctx, "web-1").Err()
		}})
	if calls.Load() == 0 {
		t.Fatal("the template's OnConnect did not run")
	}
	name, err := r.sh.Primary().ClientGetName(t.Context()).Result()
	if err != nil || name != "web-1" {
		t.Fatalf("CLIENT GETNAME = %q, %v; want web-1", name, err)
	}
	replicaOf(t, r.replica, "")
	r.fwd.Repoint(r.replica.Addr())
	pingThrough(t, r.sh)
	if n := r.sh.Stats().Switches; n != 1 {
		t.Fatalf("Switches = %d, want 1", n)
	}
	fail.Store(true)
	r.fwd.Repoint(r.replica.Addr())
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		if err := r.sh.Ping(ctx); !errors.Is(err, errHook) {
			return fmt.Errorf("Ping = %v, want the template's OnConnect error", err)
		}
		return nil
	})
}

// A server that will not answer INFO (an ACL, a renamed command) turns
// the check off for the shard: connections work, no switch is seen.
func TestEndpointCheckOffWhenInfoRefused(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		setup []any // run as the default user before the shard connects
	}{
		{"ACL refuses INFO", nil, []any{"ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all", "-info"}},
		{"INFO renamed away", []string{"--rename-command", "INFO", ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &redis.Options{DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}
			start := func() *redistest.Server {
				srv := redistest.NewServer(t, redistest.Options{Name: "ep-noinfo", Args: tt.args})
				if tt.setup != nil {
					c := srv.Client()
					err := c.Do(t.Context(), tt.setup...).Err()
					c.Close()
					if err != nil {
						t.Fatal(err)
					}
					client.Username, client.Password = "app", "secret"
				}
				return srv
			}
			a, b := start(), start()
			fwd := redistest.NewForwarder(t, a.Addr())
			sh, err := shard.New(shard.Options{Name: "s0", Addr: fwd.Addr(), Client: client})
			if err != nil {
				t.Fatal(err)
			}
			defer sh.Close()
			if err := sh.Ping(t.Context()); err != nil {
				t.Fatalf("Ping with INFO refused: %v", err)
			}
			fwd.Repoint(b.Addr()) // another primary: a switch, were the check on
			pingThrough(t, sh)
			if n := sh.Stats().Switches; n != 0 {
				t.Fatalf("Switches = %d with the check off, want 0", n)
			}
		})
	}
}

// A listener that sends a command to the shard itself, which needs a new
// connection to the primary whose switch it is being told of, is not
// deadlocked: that connection waits for the reaction at most a second.
func TestEndpointListenerMayUseShard(t *testing.T) {
	r := newEndpointRig(t, nil)
	got := make(chan error, 1)
	r.sh.OnFailover(func(ev failover.Event) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c := r.sh.Primary().Conn() // the pool's only connection is the one reporting the switch
		defer c.Close()
		got <- c.Ping(ctx).Err()
	})
	replicaOf(t, r.replica, "")
	r.fwd.Repoint(r.replica.Addr())
	start := time.Now()
	pingThrough(t, r.sh)
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("the listener's PING: %v", err)
		}
	default:
		t.Fatal("the listener did not run")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the switch took %v to handle, want about the 1 s bound", d)
	}
}

// The provider's failover as a client with its breaker on lives it: the
// dead primary opens the breaker; after the repoint, the breaker's
// half-open probe dials the new primary, whose identity check (a command
// of the connection's set-up, not gated by the breaker) sees the switch,
// and writes work again.
func TestEndpointSwitchWithOpenBreaker(t *testing.T) {
	r := newEndpointRigWith(t, shard.Options{})
	if err := r.primary.Kill(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		r.sh.Ping(ctx)
		if st := r.sh.Stats().Breaker; st != failover.Open {
			return fmt.Errorf("breaker %v, want open", st)
		}
		return nil
	})
	replicaOf(t, r.replica, "")
	r.fwd.Repoint(r.replica.Addr())
	redistest.Eventually(t, 10*time.Second, func(ctx context.Context) error {
		return r.sh.Primary().Set(ctx, "k", "v", 0).Err()
	})
	if st := r.sh.Stats(); st.Switches != 1 || st.Breaker != failover.Closed {
		t.Fatalf("stats %+v, want one switch and the breaker closed", st)
	}
}
