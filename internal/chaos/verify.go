package chaos

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shardsession/shardsession/store"
)

// Judging a scenario: the clients' counters and reading back every session.

// stalled is how long a write may take and still count as served at once:
// above a WAIT that times out (250 ms by default), far above a write's
// usual milliseconds. A write held longer is an outage even when it
// succeeds in the end: a Redis Cluster client retries CLUSTERDOWN until
// the request's deadline, so its writes wait out a failover rather than
// fail.
const stalled = 500 * time.Millisecond

// measure fills the request counters from the load's events. The write
// outage of a session is from the start of its first write after the
// fault that failed or stalled to the end of the next one that succeeded
// (the stalled write itself, if it did).
func (r *Report) measure(l *Load, hurt string, t0 time.Time) {
	bySession := map[string][]Event{}
	for _, ev := range l.events {
		r.Requests++
		if ev.Shard != hurt && !ev.Start.Before(t0) {
			r.SlowestOtherShards = max(r.SlowestOtherShards, ev.End.Sub(ev.Start))
		}
		if ev.Err == nil {
			if ev.Shard == hurt && (ev.Op == Write || ev.Op == Login) {
				bySession[ev.ID] = append(bySession[ev.ID], ev)
			}
			continue
		}
		r.Errors++
		if ev.Shard != hurt {
			r.ErrorsOtherShards++
			if len(r.OtherShardErrors) < 5 {
				r.OtherShardErrors = append(r.OtherShardErrors, fmt.Sprintf("op %d on %s: %v", ev.Op, ev.Shard, ev.Err))
			}
		}
		if ev.Op == Read {
			r.FailedReads++
		}
		if msg := ev.Err.Error(); strings.Contains(msg, "READONLY") || strings.Contains(msg, "EOF") {
			r.ReadOnlyEOF++
		}
		if ev.Shard == hurt && (ev.Op == Write || ev.Op == Login) {
			bySession[ev.ID] = append(bySession[ev.ID], ev)
		}
	}
	var windows []time.Duration
	for _, evs := range bySession {
		slices.SortFunc(evs, func(a, b Event) int { return a.Start.Compare(b.Start) })
		var firstFail time.Time
		for _, ev := range evs {
			if ev.Start.Before(t0) {
				continue
			}
			if (ev.Err != nil || ev.End.Sub(ev.Start) > stalled) && firstFail.IsZero() {
				firstFail = ev.Start
			}
			if ev.Err == nil && !firstFail.IsZero() {
				windows = append(windows, ev.End.Sub(firstFail))
				break
			}
		}
	}
	slices.Sort(windows)
	r.OutageP50, r.OutageP99 = percentile(windows, 50), percentile(windows, 99)
}

func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, (len(sorted)*p+99)/100-1)]
}

// verify reads back every live session and every logged-out one.
func (r *Report) verify(ctx context.Context, c Client, l *Load, burst *logoutBurst) error {
	for _, s := range l.sessions {
		fields, found, err := c.Load(ctx, s.id, store.LoadOptions{Primary: true})
		if err != nil {
			return fmt.Errorf("chaos: verify session on %s: %w", s.shard, err)
		}
		n, _ := strconv.ParseInt(fields["n"], 10, 64)
		if !found {
			if s.logoutFailed {
				continue // its last logout failed, but took effect
			}
			n = 0
		}
		r.Sessions++
		if n < s.acked {
			r.AckedLost++
		}
		if n < s.confirmed {
			r.ConfirmedLost++
		}
	}
	out := l.loggedOut
	if burst != nil {
		out = append(out, burst.acked()...)
	}
	for _, id := range out {
		_, found, err := c.Load(ctx, id, store.LoadOptions{Primary: true})
		if err != nil {
			return fmt.Errorf("chaos: verify logout: %w", err)
		}
		r.Logouts++
		if found {
			r.Resurrected++
		}
	}
	return nil
}
