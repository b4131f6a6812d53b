package bench

import (
	"io"
	"math"
	"slices"
)

// SVG writes a plot of the fleet report: one panel per measure of the
// servers' cost, against the number of web nodes, one line per balancer.
func (r *FleetReport) SVG(w io.Writer) error {
	nodes := distinct(r.Results, func(x FleetResult) int { return x.Nodes })
	balancers := distinct(r.Results, func(x FleetResult) bool { return x.Sticky })
	slices.Sort(nodes)
	xs := labels(nodes)
	measures := []struct {
		title string
		value func(FleetResult) float64
	}{
		{"commands per request (primaries)", func(x FleetResult) float64 { return x.CommandsPerRequest }},
		{"primary CPU ms per 1,000 requests", func(x FleetResult) float64 { return x.PrimaryCPUPer1000 }},
		{"near-cache hits, %", func(x FleetResult) float64 { return 100 * x.HitRate }},
		{"pushes per write", func(x FleetResult) float64 { return x.PushesPerWrite }},
		{"connections per node per primary", func(x FleetResult) float64 { return x.ConnsPerPrimary / float64(x.Nodes) }},
		{"idle commands/s per node per primary", func(x FleetResult) float64 { return x.IdlePerPrimary }},
	}
	var panels []panel
	for _, m := range measures {
		p := panel{title: m.title, xLabel: "web nodes", xs: xs, format: decimal}
		for _, sticky := range balancers {
			l := line{name: ProxyName(sticky)}
			for _, n := range nodes {
				v := math.NaN()
				for _, x := range r.Results {
					if x.Nodes == n && x.Sticky == sticky {
						v = m.value(x)
					}
				}
				l.ys = append(l.ys, v)
			}
			p.lines = append(p.lines, l)
		}
		panels = append(panels, p)
	}
	return writeFigure(w, panels, 2, machineNote(r.Machine))
}
