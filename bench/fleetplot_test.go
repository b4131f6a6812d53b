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
// per balancer, and leaves out a point no run measured.
func TestFleetReportSVG(t *testing.T) {
	rep := &bench.FleetReport{Machine: bench.Machine{LoadAverage: "0.50 0.40 0.30", CPUs: 2}}
	for _, sticky := range []bool{false, true} {
		for _, n := range []int{1, 10, 200} {
			if sticky && n == 10 {
				continue // not measured
			}
			rep.Results = append(rep.Results, bench.FleetResult{Nodes: n, Sticky: sticky, CommandsPerRequest: 1.3, PrimaryCPUPer1000: 80, HitRate: 0.5, PushesPerWrite: 0.8, ConnsPerPrimary: 2 * float64(n), IdlePerPrimary: 0.12})
		}
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
	if want := 6 * 2; polylines != want {
		t.Errorf("%d lines, want %d (6 panels × 2 balancers)", polylines, want)
	}
	if want := 6 * 5; circles != want {
		t.Errorf("%d points, want %d (the sticky run at 10 nodes is missing)", circles, want)
	}
	for _, title := range []string{"commands per request (primaries)", "idle commands/s per node per primary", "round-robin", "sticky", "load average 0.50 0.40 0.30"} {
		if !strings.Contains(b.String(), title) {
			t.Errorf("no %q in the plot", title)
		}
	}
}
