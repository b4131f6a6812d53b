package bench

import (
	"context"
	"fmt"
	"slices"
)

// Sweep is a set of runs: every store, at every concurrency and read mix,
// Rounds times.
type Sweep struct {
	// Base is the workload; its Concurrency and Reads are replaced by each
	// cell's.
	Base Workload
	// Concurrencies to run at. Default {64}.
	Concurrencies []int
	// Reads are the read mixes to run (see Workload.Reads). Default {1, 0}:
	// a read-only and a write-only run.
	Reads []float64
	// Rounds repeats every cell; the result kept is the round of median
	// throughput. Within a round the stores take turns, in an order that
	// rotates, so that a machine whose load drifts does not favour one.
	// Default 1.
	Rounds int
}

func (s *Sweep) init() {
	s.Base.init()
	if len(s.Concurrencies) == 0 {
		s.Concurrencies = []int{64}
	}
	if len(s.Reads) == 0 {
		s.Reads = []float64{1, 0}
	}
	if s.Rounds <= 0 {
		s.Rounds = 1
	}
}

// Cells is the number of runs the sweep makes over n stores.
func (s Sweep) Cells(n int) int {
	s.init()
	return n * len(s.Concurrencies) * len(s.Reads) * s.Rounds
}

// Run seeds every store once, then runs the sweep, calling done after
// each run. Results come grouped by read mix, then concurrency, in the
// stores' order.
func (s Sweep) Run(ctx context.Context, stores *Stores, done func(Result)) ([]Result, error) {
	s.init()
	names := stores.Names()
	tokens := map[string][]string{}
	for _, name := range names {
		t, err := Seed(ctx, Manager(stores.Get(name)), s.Base.Sessions, s.Base.ValueSize)
		if err != nil {
			return nil, fmt.Errorf("bench: seed %s: %w", name, err)
		}
		tokens[name] = t
	}
	var out []Result
	turn := 0
	for _, reads := range s.Reads {
		for _, conc := range s.Concurrencies {
			w := s.Base
			w.Reads, w.Concurrency = reads, conc
			rounds := map[string][]Result{}
			for range s.Rounds {
				for i := range names {
					name := names[(i+turn)%len(names)]
					r, err := Run(ctx, name, Manager(stores.Get(name)), tokens[name], w)
					if err != nil {
						return nil, err
					}
					if ctx.Err() != nil {
						return out, ctx.Err()
					}
					rounds[name] = append(rounds[name], r)
					if done != nil {
						done(r)
					}
				}
				turn++
			}
			for _, name := range names {
				out = append(out, median(rounds[name]))
			}
		}
	}
	return out, nil
}

// median returns the result of median throughput.
func median(rs []Result) Result {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Result) int {
		switch {
		case a.PerSecond < b.PerSecond:
			return -1
		case a.PerSecond > b.PerSecond:
			return 1
		}
		return 0
	})
	return rs[len(rs)/2]
}
