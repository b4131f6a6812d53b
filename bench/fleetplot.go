package bench

import (
	"io"
	"math"
	"slices"
)

// SVG writes a plot of the fleet report: one panel per measure of the
// servers' cost, against the number of web nodes, one line per balancer
// (and per near cache or none).
func (r *FleetReport) SVG(w io.Writer) error {
	nodes := distinct(r.Results, func(x FleetResult) int { return x.Nodes })
	setups := distinct(r.Results, FleetResult.Setup)
	slices.Sort(nodes)
	xs := labels(nodes)
	measures := []struct {
		title string
		value func(FleetResult) float64
	}{
		{"commands per request (primaries)", func(x FleetResult) float64 { return x.CommandsPerRequest }},
		{"round trips per request (primaries)", func(x FleetResult) float64 { return x.RoundTripsPerRequest }},
		{"primary CPU ms per 1,000 requests", func(x FleetResult) float64 { return x.PrimaryCPUPer1000 }},
		{"near-cache hits, %", func(x FleetResult) float64 { return cached(x, 100*x.HitRate) }},
		{"nodes tracked per session", func(x FleetResult) float64 { return cached(x, x.TrackedPerSession) }},
		{"pushes per write", func(x FleetResult) float64 { return x.PushesPerWrite }},
		{"connections per node per primary", func(x FleetResult) float64 { return x.ConnsPerPrimary / float64(x.Nodes) }},
		{"idle commands/s per node per primary", func(x FleetResult) float64 { return x.IdlePerPrimary }},
	}
	var panels []panel
	for _, m := range measures {
		p := panel{title: m.title, xLabel: "web nodes", xs: xs, format: decimal}
		for _, setup := range setups {
			l := line{name: setup}
			for _, n := range nodes {
				v := math.NaN()
				for _, x := range r.Results {
					if x.Nodes == n && x.Setup() == setup {
						v = m.value(x)
					}
				}
				l.ys = append(l.ys, v)
			}
			if slices.ContainsFunc(l.ys, func(v float64) bool { return !math.IsNaN(v) }) {
				p.lines = append(p.lines, l)
			}
		}
		panels = append(panels, p)
	}
	return writeFigure(w, panels, 2, machineNote(r.Machine))
}

// cached is v where the nodes had a near cache, and no point where they
// had none.
func cached(x FleetResult, v float64) float64 {
	if !x.NearCache {
		return math.NaN()
	}
	return v
}
