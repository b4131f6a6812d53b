package bench_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/bench"
)

// The fleet plot is well-formed SVG with a panel per measure and a line
// per balancer and near cache, and leaves out a point no run measured and
// the near cache's measures of nodes that had none.
func TestFleetReportSVG(t *testing.T) {
	rep := &bench.FleetReport{Machine: bench.Machine{LoadAverage: "0.50 0.40 0.30", CPUs: 2}}
	for _, sticky := range []bool{false, true} {
		for _, n := range []int{1, 10, 200} {
			if sticky && n == 10 {
				continue // not measured
			}
			rep.Results = append(rep.Results, bench.FleetResult{Nodes: n, Sticky: sticky, NearCache: true, CommandsPerRequest: 1.3, RoundTripsPerRequest: 0.6, PrimaryCPUPer1000: 80, HitRate: 0.5, TrackedPerSession: 0.9, PushesPerWrite: 0.8, ConnsPerPrimary: 2 * float64(n), IdlePerPrimary: 0.12})
		}
	}
	for _, n := range []int{1, 200} { // no near cache: no hits, nothing tracked
		rep.Results = append(rep.Results, bench.FleetResult{Nodes: n, CommandsPerRequest: 1.8, RoundTripsPerRequest: 1, PrimaryCPUPer1000: 90, ConnsPerPrimary: 2 * float64(n), IdlePerPrimary: 0.12})
	}
	var b bytes.Buffer
	if err := rep.SVG(&b); err != nil {
		t.Fatal(err)
	}
	polylines, circles := 0, 0
	for d := xml.NewDecoder(bytes.NewReader(b.Bytes())); ; {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, b.String())
		}
		if el, ok := tok.(xml.StartElement); ok {
			switch el.Name.Local {
			case "polyline":
				polylines++
			case "circle":
				circles++
			}
		}
	}
	if want := 8*2 + 6; polylines != want {
		t.Errorf("%d lines, want %d (8 panels × 2 balancers, and the fleet with no near cache in 6 of them)", polylines, want)
	}
	if want := 8*5 + 6*2; circles != want {
		t.Errorf("%d points, want %d (the sticky run at 10 nodes and the uncached one at 10 are missing)", circles, want)
	}
	for _, title := range []string{"commands per request (primaries)", "idle commands/s per node per primary", "nodes tracked per session", "round-robin", "sticky", "round-robin, no near cache", "load average 0.50 0.40 0.30"} {
		if !strings.Contains(b.String(), title) {
			t.Errorf("no %q in the plot", title)
		}
	}
}
