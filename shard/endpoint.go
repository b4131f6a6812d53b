package shard

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
)

// Failover behind a fixed endpoint. A managed Redis service (ElastiCache,
// Memorystore, Azure Cache) has no Sentinel to announce a switch: it
// promotes a replica and repoints its primary endpoint, and clients simply
// reconnect to the same address. A static shard would never learn of it,
// yet the protections that follow a switch (the revocation journal's
// replay, the near cache's flush, the breakers' reset) are needed as much.
//
// So each new connection of a static shard's primary client asks the
// server who it is (INFO server and replication, one round trip, before
// the connection serves anything): its run_id and its replication ID
// (master_replid). The first primary seen is the baseline; a primary with
// another pair is a switch, and the shard reacts as to a +switch-master
// (onEvent) before that connection is used, so a load on it already
// checks the journal. A promoted replica has a new run_id and a new
// replication ID; a restarted server a new run_id. A restart is therefore
// taken for a switch too, which is what it may be: the node reloaded
// whatever its persistence kept, and a delete acknowledged in the last
// second may be gone, so the replay and the flush (both idempotent) are
// the right answer to it as well. A mere reconnection to the same server
// (an idle timeout, a network blip) is not a switch.
//
// A connection that reaches a node that is not a primary (the endpoint
// still points at the demoted node) or the very primary a switch replaced
// (a stale DNS answer, a split brain) is refused with ErrNotPrimary: a
// write there would be lost. A READONLY reply to a write, which go-redis
// answers by dropping that connection, makes the shard open one fresh
// connection to check the endpoint now rather than at the next dial
// (at most once per readOnlyProbeEvery). Nothing is polled: an idle
// shard sends nothing.

// maxRetired bounds the identities a shard remembers as replaced.
const maxRetired = 8

// readOnlyProbeEvery is the least time between two checks of the endpoint
// prompted by READONLY replies.
const readOnlyProbeEvery = time.Second

// maxReactWait bounds how long a new connection to the current primary
// waits for the shard's reaction to its switch (the OnFailover listeners,
// which should take microseconds).
const maxReactWait = time.Second

// probeTimeout bounds one such check.
const probeTimeout = 2 * time.Second

// identity is what tells one primary from another behind a fixed address.
type identity struct {
	runID  string // INFO server run_id: new on every start of redis-server
	replID string // INFO replication master_replid: new on every promotion
}

// parseIdentity reads the node's identity and role from the reply of
// INFO server replication. ok is false when the reply has no run_id (a
// proxy that answers INFO itself, say).
func parseIdentity(raw string) (id identity, role string, ok bool) {
	for line := range strings.Lines(raw) {
		k, v, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found {
			continue
		}
		switch k {
		case "run_id":
			id.runID = v
		case "master_replid":
			id.replID = v
		case "role":
			role = v
		}
	}
	return id, role, id.runID != "" && role != ""
}

// infoRefused reports whether err says the server will never answer
// INFO to this client: an ACL refuses it, or the command was renamed
// away. Other errors (a network failure, BUSY) are passing, and fail only
// the connection.
func infoRefused(err error) bool {
	if err == nil {
		return false
	}
	return redis.IsPermissionError(err) || strings.HasPrefix(err.Error(), "ERR unknown command")
}

// endpointWatch follows the identity of the node behind a static shard's
// primary address. It is safe for concurrent use.
type endpointWatch struct {
	s    *Shard
	addr string

	mu       sync.Mutex
	current  identity      // the primary last seen; zero before the first
	retired  []identity    // primaries a switch replaced, oldest first
	reacting chan struct{} // closed once the shard has reacted to the last switch; nil before one

	off       atomic.Bool  // INFO refused (an ACL, a renamed command): the check is skipped
	lastProbe atomic.Int64 // unix ns of the last READONLY-prompted check
	probeOpt  *redis.Options

	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// watchEndpoint makes the primary client built from copt (a copy of the
// shard's template aimed at Addr) check the identity of each new
// connection, after the template's own OnConnect, and report READONLY
// replies. It changes copt.OnConnect; call it before the client is made.
func (s *Shard) watchEndpoint(copt *redis.Options) {
	w := &endpointWatch{s: s, addr: copt.Addr}
	w.ctx, w.stop = context.WithCancel(context.Background())
	user := copt.OnConnect
	copt.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		if user != nil {
			if err := user(ctx, cn); err != nil {
				return err
			}
		}
		return w.check(ctx, cn)
	}
	p := *copt
	p.PoolSize, p.MinIdleConns, p.MaxRetries = 1, 0, -1
	w.probeOpt = &p
	s.endpoint = w
}

// check asks the node on a new connection who it is, and reacts.
func (w *endpointWatch) check(ctx context.Context, cn *redis.Conn) error {
	if w.off.Load() {
		return nil
	}
	raw, err := cn.Info(failover.Handshake(ctx), "server", "replication").Result()
	if infoRefused(err) {
		if w.off.CompareAndSwap(false, true) {
			slog.Warn("shardsession: INFO refused, a switch of the node behind the address will go unnoticed",
				"shard", w.s.name, "addr", w.addr, "err", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: identity check: %w", w.addr, err)
	}
	id, role, ok := parseIdentity(raw)
	if !ok {
		return nil // not a redis-server's answer: nothing to compare
	}
	if role != "master" {
		return fmt.Errorf("%w: %w: %s reached a node whose role is %s", ErrUnavailable, ErrNotPrimary, w.addr, role)
	}
	return w.see(ctx, id)
}

// see records id, a primary's identity seen on a new connection: the
// first is the baseline, a new one is a switch the shard reacts to, once
// however many connections see it. A connection to the current primary
// waits until the shard has reacted to its switch (or ctx ends, or
// maxReactWait passes), so none serves a request before LastSwitch says
// the journals must be checked.
func (w *endpointWatch) see(ctx context.Context, id identity) error {
	w.mu.Lock()
	switch {
	case w.current == (identity{}):
		w.current = id
		w.mu.Unlock()
		return nil
	case id == w.current:
		reacting := w.reacting
		w.mu.Unlock()
		if reacting == nil {
			return nil
		}
		select {
		case <-reacting: // the usual case, long after the switch
			return nil
		default:
		}
		t := time.NewTimer(maxReactWait)
		defer t.Stop()
		select {
		case <-reacting:
		case <-t.C: // a listener that waits for this shard: do not deadlock it
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	for _, r := range w.retired {
		if r == id {
			w.mu.Unlock()
			return fmt.Errorf("%w: %w: %s reached the primary that run_id %s replaced (run_id %s)", ErrUnavailable, ErrNotPrimary, w.addr, w.current.runID, id.runID)
		}
	}
	old := w.current
	w.retired = append(w.retired, old)
	if len(w.retired) > maxRetired {
		w.retired = w.retired[1:]
	}
	w.current = id
	reacting := make(chan struct{})
	w.reacting = reacting
	w.mu.Unlock()
	defer close(reacting)
	slog.Info("failover: a new primary behind the address", "shard", w.s.name, "addr", w.addr, "old_run_id", old.runID, "new_run_id", id.runID)
	w.s.onEvent(failover.Event{Kind: failover.SwitchMaster, MasterName: w.s.name, Old: old.runID, New: id.runID, At: time.Now()})
	return nil
}

// readOnly is told of a READONLY reply from the primary's address: the
// node behind it was demoted. go-redis drops that connection; this checks
// the endpoint on a fresh one now (a new primary behind it is a switch),
// at most once per readOnlyProbeEvery, in the background.
func (w *endpointWatch) readOnly() {
	now := time.Now().UnixNano()
	last := w.lastProbe.Load()
	if now-last < int64(readOnlyProbeEvery) || !w.lastProbe.CompareAndSwap(last, now) || w.ctx.Err() != nil {
		return
	}
	w.wg.Go(func() {
		ctx, cancel := context.WithTimeout(w.ctx, probeTimeout)
		defer cancel()
		c := redis.NewClient(w.probeOpt) // its OnConnect is check
		c.Ping(ctx)                      // what counts is the connection's check
		c.Close()
	})
}

// close stops the checks prompted by READONLY and waits for them.
func (w *endpointWatch) close() {
	w.stop()
	w.wg.Wait()
}

// readOnlyHook is the go-redis hook that reports READONLY replies of the
// primary's client to its endpointWatch.
type readOnlyHook struct{ w *endpointWatch }

func (h readOnlyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h readOnlyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if redis.IsReadOnlyError(err) {
			h.w.readOnly()
		}
		return err
	}
}

func (h readOnlyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, c := range cmds {
			if redis.IsReadOnlyError(c.Err()) {
				h.w.readOnly()
				break
			}
		}
		return err
	}
}
