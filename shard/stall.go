package shard

import (
	"context"
	"fmt"
	"time"
)

// The stall guard of a shard found through Sentinel. A primary paused past
// a failover answers what waited on its sockets the moment it resumes,
// before this process may have heard of the switch. So when the primary
// has answered nothing for the stall threshold, its next answer is held
// until the sentinels confirm it is still the primary (confirmPrimary), and
// a read asks them before it picks a replica (ConfirmPrimary).
//
// The threshold is half the sentinels' down-after-milliseconds, and never
// less than minStall: Sentinel cannot have replaced a primary that stopped
// answering less than down-after ago, so an answer that comes sooner than
// half of it after the previous one is from the primary still.
//
// While reads go to the replicas, keepAlive pings a primary that has been
// quiet for half the threshold, so that only a stalled primary goes that
// long without answering and a read picks a replica without a look at the
// sentinels. While they do not, an idle primary is not pinged: in a fleet
// of a thousand nodes those PINGs would be most of an idle primary's
// commands, and all they would spare is one look at the sentinels on the
// first answer after a quiet spell.

// minStall is the stall threshold until the sentinels' down-after is
// known, and its floor.
const minStall = 500 * time.Millisecond

// confirmTimeout bounds one look at the sentinels by the stall guard.
const confirmTimeout = 500 * time.Millisecond

// stallAfter returns the stall threshold.
func (s *Shard) stallAfter() time.Duration {
	if d := time.Duration(s.stall.Load()); d > minStall {
		return d
	}
	return minStall
}

// noteDownAfter sets the stall threshold from the sentinels' smallest
// down-after-milliseconds for the shard's primary.
func (s *Shard) noteDownAfter(d time.Duration) {
	s.stall.Store(int64(max(minStall, d/2)))
}

// keepAlive looks at the sentinels once (to learn their down-after), then
// PINGs the primary whenever it has answered nothing for half the stall
// threshold while the replicas are in use, or once after ConfirmPrimary
// wakes it, until ctx ends. A busy primary is never pinged: its answers
// keep lastAnswer fresh.
func (s *Shard) keepAlive(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	s.finder.discover(dctx) // on failure the threshold stays at minStall
	cancel()
	t := time.NewTimer(s.stallAfter() / 2)
	defer t.Stop()
	for {
		woken := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.stallWake:
			woken = true
		}
		half := s.stallAfter() / 2
		quiet := time.Since(time.Unix(0, s.lastAnswer.Load()))
		switch {
		case quiet < half:
			t.Reset(half - quiet)
		case woken || s.replicasInUse():
			pctx, cancel := context.WithTimeout(ctx, 2*half)
			s.primary.Ping(pctx) // its answer, or none, is what counts
			cancel()
			t.Reset(half)
		default:
			t.Reset(half)
		}
	}
}

// replicasInUse reports whether reads go to the shard's replicas now.
func (s *Shard) replicasInUse() bool {
	r := s.readSet.Load()
	return r != nil && r.InUse()
}

// ConfirmPrimary makes sure, when the shard's primary has answered nothing
// for the stall threshold (the node may have been paused past a failover),
// that the read set knows which node the sentinels name primary now,
// asking them before it returns. Call it before picking a replica to read
// from: a replica still attached to a deposed primary that resumed is then
// not picked. It costs nothing while the primary answers, and nothing for
// a shard with static addresses.
//
// The primary of a process that reads from it only is not pinged when
// idle (keepAlive), so the first read of a replica after a quiet spell
// asks the sentinels; it also wakes keepAlive, whose PING then keeps the
// next ones from asking.
func (s *Shard) ConfirmPrimary() {
	if s.finder == nil || !s.silentFor(s.stallAfter()) {
		return
	}
	select {
	case s.stallWake <- struct{}{}:
	default:
	}
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	if !s.silentFor(s.stallAfter()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	s.learnPrimary(ctx)
}

// learnPrimary asks the sentinels which node is primary and notes it in
// the read set, where currentPrimary, the primary's dialer and the
// deposed-primary guard look.
func (s *Shard) learnPrimary(ctx context.Context) (string, error) {
	primary, _, err := s.finder.discover(ctx)
	if err != nil {
		return "", err
	}
	if r := s.readSet.Load(); r != nil {
		r.SetPrimary(primary)
	}
	return primary, nil
}

// confirmPrimary is called with each answer read from addr, the primary's
// node: after a stall it asks the sentinels whether addr is still the
// primary, and returns an error wrapping ErrUnavailable if not. One
// question to each sentinel does when they all name addr (an idle node's
// first command after a quiet spell, most often); else they are asked
// what discover asks, and the primary they name is noted. When no
// sentinel answers it cannot tell, and accepts the answer.
func (s *Shard) confirmPrimary(addr string) error {
	last := s.lastAnswer.Load()
	if time.Since(time.Unix(0, last)) < s.stallAfter() {
		s.lastAnswer.Store(time.Now().UnixNano())
		return nil
	}
	s.confirmMu.Lock()
	defer s.confirmMu.Unlock()
	if s.lastAnswer.Load() != last {
		return nil // confirmed by another reader meanwhile
	}
	ctx, cancel := context.WithTimeout(context.Background(), confirmTimeout)
	defer cancel()
	if s.finder.allName(ctx, addr) {
		s.lastAnswer.Store(time.Now().UnixNano())
		return nil
	}
	primary, err := s.learnPrimary(ctx)
	if err == nil && primary != addr {
		return fmt.Errorf("%w: %s answered after a stall and is no longer the primary (the sentinels name %s)", ErrUnavailable, addr, primary)
	}
	s.lastAnswer.Store(time.Now().UnixNano())
	return nil
}
