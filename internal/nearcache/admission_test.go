package nearcache

import (
	"fmt"
	"testing"
)

// The judgement of each window, on the hits of the sessions dropped in it.
func TestAdmissionJudgesHitsPerSession(t *testing.T) {
	const window = 10
	busy := func(n int64) []int64 { return []int64{n} }
	cases := []struct {
		name      string
		min       float64
		start     bool // bypassing before the window
		hits      []int64
		outside   bool // the sessions are not in the sample
		bypassing bool
	}{
		{"round-robin: nothing reused", 0.1, false, make([]int64, window), false, true},
		{"one hit in the window is 0.1 per session", 0.1, false, append(make([]int64, window-1), 1), false, false},
		{"crawlers beside one busy session", 0.1, false, append(make([]int64, window-1), busy(50)...), false, false},
		{"sampled sessions reused again, twice the bound", 0.1, true, []int64{1, 0, 2, 0, 0, 0, 0, 0, 0, 0}, false, false},
		{"sampled sessions at the bound: no switch back", 0.1, true, append(make([]int64, window-1), 1), false, true},
		{"still unreused", 0.1, true, make([]int64, window), false, true},
		{"bypassing: what is outside the sample is not judged", 0.1, true, append(make([]int64, window-1), busy(50)...), true, true},
		{"negative: never", -1, false, make([]int64, window), false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := admission{min: c.min, window: window}
			a.bypassing.Store(c.start)
			for i, h := range c.hits {
				if i == len(c.hits)-1 && a.bypassing.Load() != c.start {
					t.Fatalf("judged before the window was full")
				}
				a.drop(h, !c.outside)
			}
			if got := a.bypassing.Load(); got != c.bypassing {
				t.Fatalf("bypassing = %v, want %v", got, c.bypassing)
			}
			wantSwitches := uint64(0)
			if c.bypassing && !c.start {
				wantSwitches = 1
			}
			if a.bypasses.Load() != wantSwitches || a.totalDropped.Load() != uint64(len(c.hits)) || !c.outside && a.dropped != 0 {
				t.Fatalf("%d bypasses, %d dropped", a.bypasses.Load(), a.totalDropped.Load())
			}
		})
	}
}

// While bypassing, one session in sixteen is still taken in, the same ones
// on every node.
func TestAdmissionSample(t *testing.T) {
	a := admission{}
	a.bypassing.Store(true)
	in := 0
	const n = 80_000
	for i := range n {
		id := fmt.Sprintf("session-%d", i)
		if a.admits(hash(id)) {
			in++
			if !Sampled(id) {
				t.Fatalf("%s taken in but not sampled", id)
			}
		}
	}
	if in < n/16*9/10 || in > n/16*11/10 {
		t.Fatalf("%d of %d sessions taken in while bypassing, want about one in sixteen", in, n)
	}
	a.bypassing.Store(false)
	if !a.admits(hash("any")) {
		t.Fatal("a session not taken in while not bypassing")
	}
}
