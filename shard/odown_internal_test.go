package shard

import (
	"context"
	"testing"
	"time"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
)

// A +odown trips the primary's breaker only when it names the primary the
// shard uses and that node has gone quiet here and does not answer a PING:
// a late one about a deposed node, or one about a node that answers this
// process (a sentinel may flag a primary it has just promoted; a process
// that reads from the primary only does not ping it while idle), would
// fail requests the primary serves. A -odown closes the breaker only for the primary.
func TestObjectivelyDownTripsOnlyASilentPrimary(t *testing.T) {
	// A long down-after: the sentinel must not fail the paused primary over.
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 1, Replicas: 1, Sentinels: 1, DownAfter: 10 * time.Second})
	s, err := New(Options{Name: "s0", Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: top.SentinelAddrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.ha.stopKeepAlive() // its PINGs would note answers while the test says when the primary last answered
	<-s.ha.keepAliveDone
	if err := s.Primary().Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	primary := top.Shards[0].Primary.Addr()
	if cur := s.currentPrimary(); cur != primary {
		t.Fatalf("currentPrimary = %q, want %q", cur, primary)
	}
	event := func(kind failover.EventKind, addr string) failover.Event {
		return failover.Event{Kind: kind, MasterName: "s0", Old: addr, At: time.Now()}
	}
	steps := []struct {
		name   string
		silent bool
		paused bool
		ev     failover.Event
		want   failover.State
	}{
		{"+odown of a deposed node", true, true, event(failover.ObjectivelyDown, "127.0.0.1:1"), failover.Closed},
		{"+odown of a primary that answers", false, false, event(failover.ObjectivelyDown, primary), failover.Closed},
		{"+odown of a primary idle here that answers a PING", true, false, event(failover.ObjectivelyDown, primary), failover.Closed},
		{"+odown of a silent primary", true, true, event(failover.ObjectivelyDown, primary), failover.Open},
		{"-odown of another node", true, false, event(failover.BackUp, "127.0.0.1:1"), failover.Open},
		{"-odown of the primary", true, false, event(failover.BackUp, primary), failover.Closed},
	}
	for _, st := range steps {
		if st.silent {
			s.lastAnswer.Store(time.Now().Add(-time.Hour).UnixNano())
		} else {
			s.lastAnswer.Store(time.Now().UnixNano())
		}
		if st.paused {
			if err := top.Shards[0].Primary.Pause(); err != nil {
				t.Fatal(err)
			}
		}
		s.onEvent(st.ev)
		if st.paused {
			if err := top.Shards[0].Primary.Resume(); err != nil {
				t.Fatal(err)
			}
		}
		if got := s.ha.breaker.State(); got != st.want {
			t.Errorf("%s: breaker %v, want %v", st.name, got, st.want)
		}
	}
}
