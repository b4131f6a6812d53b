package history

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is what an operation does to its session.
type Kind int

// The operations on a session.
const (
	Read   Kind = iota // read the session's value
	Write              // set it
	Logout             // destroy the session
)

func (k Kind) String() string { return [...]string{"read", "write", "logout"}[k] }

// Op is one request of one client against one session.
type Op struct {
	Client  int
	Session string // the session's token
	Kind    Kind
	// Value is what a write wrote, or what a read returned (0: no value,
	// the session missing).
	Value int
	// Known is false when the answer was lost (a timeout, an error): the
	// write or logout may or may not have happened. Failed reads are not
	// recorded.
	Known bool
	// Final marks the read made after the load stopped and the topology
	// healed.
	Final      bool
	Start, End time.Duration // since the run began
}

// Report is what Check found in a history.
type Report struct {
	Scenario string
	Ops      int
	// Unknown counts writes and logouts whose outcome was not known.
	Unknown int
	// Lost counts sessions whose last acknowledged write was not there at
	// the end.
	Lost int
	// Linearizable is porcupine's verdict over every session: "yes", "no"
	// or "unknown" (the check timed out).
	Linearizable string
	// Resurrections counts reads that found a session after its logout was
	// acknowledged.
	Resurrections int
	// RYW counts reads older than the reader's own last acknowledged write;
	// Monotonic, reads older than an earlier read of the same session.
	RYW, Monotonic int
	// Empty counts reads that found a session missing although it had an
	// acknowledged write and no logout: silently empty.
	Empty int
	// OutageP50 and OutageP99 are percentiles of the write outages a
	// client saw: from the first failed write of a run of failures to the
	// end of the next write that succeeded.
	OutageP50, OutageP99 time.Duration
	// Bad describes the first violations found, for the test log.
	Bad []string
}

// OK reports whether the history passed every check.
func (r Report) OK() bool {
	return r.Linearizable != "no" && r.Lost == 0 && r.Resurrections == 0 && r.RYW == 0 && r.Monotonic == 0 && r.Empty == 0
}

// Header is the Markdown header of the report table.
const Header = "| scenario | ops | unknown | acked writes lost | linearizable | resurrections | RYW violations | monotonic violations | silently empty | write outage p50 / p99 |\n|---|---|---|---|---|---|---|---|---|---|"

// Row is the report as a row of the Markdown table under Header.
func (r Report) Row() string {
	return fmt.Sprintf("| %s | %d | %d | %d | %s | %d | %d | %d | %d | %v / %v |", r.Scenario, r.Ops, r.Unknown, r.Lost,
		r.Linearizable, r.Resurrections, r.RYW, r.Monotonic, r.Empty, r.OutageP50.Round(time.Millisecond), r.OutageP99.Round(time.Millisecond))
}

// input and output are porcupine's views of an Op.
type input struct {
	kind  Kind
	value int
}

// register is the model of one session: its value, 0 when it has none
// (not created yet, or logged out).
var register = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Metadata.(string)
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return 0 },
	Step: func(state, in, out any) (bool, any) {
		i := in.(input)
		switch i.kind {
		case Write:
			return true, i.value
		case Logout:
			return true, 0
		}
		return out.(int) == state.(int), state
	},
	DescribeOperation: func(in, out any) string {
		i := in.(input)
		if i.kind == Read {
			return fmt.Sprintf("read → %d", out)
		}
		return fmt.Sprintf("%s %d", i.kind, i.value)
	},
}

// Check checks ops, the history of a run, and sums it up as a Report.
// timeout bounds the linearizability check.
func Check(scenario string, ops []Op, timeout time.Duration) Report {
	r := Report{Scenario: scenario, Ops: len(ops)}
	var end int64
	for _, op := range ops {
		end = max(end, int64(op.End))
	}
	// A write whose outcome is unknown and whose value no read returned is
	// left out of the linearizability check: writes are blind, so it can
	// always be taken as not having happened, and each one left in
	// doubles the orders porcupine may have to try.
	read := map[string]map[int]bool{}
	for _, op := range ops {
		if op.Kind == Read && op.Value != 0 {
			if read[op.Session] == nil {
				read[op.Session] = map[int]bool{}
			}
			read[op.Session][op.Value] = true
		}
	}
	h := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		ret := int64(op.End)
		if !op.Known {
			r.Unknown++
			if op.Kind == Write && !read[op.Session][op.Value] {
				continue
			}
			ret = end + 1 // it may take effect at any time after it began
		}
		h = append(h, porcupine.Operation{ClientId: op.Client, Input: input{op.Kind, op.Value}, Call: int64(op.Start),
			Output: op.Value, Return: ret, Metadata: op.Session})
	}
	switch porcupine.CheckOperationsTimeout(register, h, timeout) {
	case porcupine.Ok:
		r.Linearizable = "yes"
	case porcupine.Illegal:
		r.Linearizable = "no"
	default:
		r.Linearizable = "unknown"
	}
	r.checkSessions(ops)
	r.outages(ops)
	return r
}

// checkSessions runs the per-session checks. Every session is used by one
// client at a time, so its operations are sequential in start order.
func (r *Report) checkSessions(ops []Op) {
	by := map[string][]Op{}
	for _, op := range ops {
		by[op.Session] = append(by[op.Session], op)
	}
	bad := func(format string, args ...any) {
		if len(r.Bad) < 10 {
			r.Bad = append(r.Bad, fmt.Sprintf(format, args...))
		}
	}
	for id, sops := range by {
		slices.SortFunc(sops, func(a, b Op) int { return int(a.Start - b.Start) })
		acked, maxRead, loggedOut := 0, 0, false
		var ackedAt, outAt [2]time.Duration // when the last acknowledged write and logout ran
		for _, op := range sops {
			switch {
			case op.Kind == Write && op.Known:
				acked, ackedAt = op.Value, [2]time.Duration{op.Start, op.End}
			case op.Kind == Logout && op.Known:
				loggedOut, outAt = true, [2]time.Duration{op.Start, op.End}
			case op.Kind == Read && op.Value != 0 && loggedOut:
				r.Resurrections++
				bad("session %s: read %d at %v after its logout was acknowledged (%v–%v)", short(id), op.Value, op.End, outAt[0], outAt[1])
			case op.Kind == Read && op.Value == 0 && acked > 0 && !loggedOut:
				if op.Final {
					r.Lost++
				} else {
					r.Empty++
				}
				bad("session %s: read as missing at %v after write %d was acknowledged (%v–%v)", short(id), op.End, acked, ackedAt[0], ackedAt[1])
			case op.Kind == Read && op.Value != 0 && op.Value < acked:
				if op.Final {
					r.Lost++
				} else {
					r.RYW++
				}
				bad("session %s: read %d at %v after write %d was acknowledged (%v–%v)", short(id), op.Value, op.End, acked, ackedAt[0], ackedAt[1])
			case op.Kind == Read && op.Value != 0 && op.Value < maxRead:
				r.Monotonic++
				bad("session %s: read %d at %v after reading %d", short(id), op.Value, op.End, maxRead)
			}
			if op.Kind == Read {
				maxRead = max(maxRead, op.Value)
			}
		}
	}
}

// outages measures, per client, each run of failed writes: from the start
// of its first write to the end of the next write that succeeded.
func (r *Report) outages(ops []Op) {
	by := map[int][]Op{}
	for _, op := range ops {
		if op.Kind == Write && !op.Final {
			by[op.Client] = append(by[op.Client], op)
		}
	}
	var d []time.Duration
	for _, w := range by {
		slices.SortFunc(w, func(a, b Op) int { return int(a.Start - b.Start) })
		from := time.Duration(-1)
		for _, op := range w {
			switch {
			case !op.Known && from < 0:
				from = op.Start
			case op.Known && from >= 0:
				d = append(d, op.End-from)
				from = -1
			}
		}
	}
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	pct := func(p float64) time.Duration { return d[int(math.Ceil(p*float64(len(d))))-1] }
	r.OutageP50, r.OutageP99 = pct(0.50), pct(0.99)
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// String is the report as its table with one row, and the first
// violations.
func (r Report) String() string {
	var b strings.Builder
	b.WriteString(Header + "\n" + r.Row() + "\n")
	for _, s := range r.Bad {
		b.WriteString("  " + s + "\n")
	}
	return b.String()
}
