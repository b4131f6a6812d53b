package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// palette colours the lines, in the order they first appear.
var palette = []string{"#7f7f7f", "#d62728", "#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e", "#8c564b"}

// panel is one plot of a figure: lines over points spaced evenly along x,
// whatever their values.
type panel struct {
	title  string
	xLabel string
	xs     []string // the x points' labels
	lines  []line
	format func(float64) string // a y value, for the axis and the tooltips
}

// line is one series of a panel: a y value per x point, NaN where there
// is none.
type line struct {
	name string
	ys   []float64
}

// The size of one panel and its margins, in pixels.
const (
	panelW, panelH                           = 560, 340
	marginL, marginR, marginTop, marginBelow = 70, 190, 40, 50
)

// writeFigure writes panels as one SVG, cols panels to a row, with note
// (the machine) under the last.
func writeFigure(w io.Writer, panels []panel, cols int, note string) error {
	rows := (len(panels) + cols - 1) / cols
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", panelW*cols, panelH*rows)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, p := range panels {
		p.write(&b, (i%cols)*panelW, (i/cols)*panelH)
	}
	if note != "" {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" fill="#777">%s</text>`+"\n", panelW*cols-10, panelH*rows-12, html.EscapeString(note))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// write draws the panel with its top left corner at (ox, oy).
func (p panel) write(b *strings.Builder, ox, oy int) {
	plotW, plotH := float64(panelW-marginL-marginR), float64(panelH-marginTop-marginBelow)
	ymax := 0.0
	for _, l := range p.lines {
		for _, v := range l.ys {
			if !math.IsNaN(v) {
				ymax = max(ymax, v)
			}
		}
	}
	ymax = niceCeil(ymax)
	x := func(i int) float64 {
		if len(p.xs) == 1 {
			return float64(ox+marginL) + plotW/2
		}
		return float64(ox+marginL) + plotW*float64(i)/float64(len(p.xs)-1)
	}
	y := func(v float64) float64 { return float64(oy+marginTop) + plotH*(1-v/ymax) }
	left, right := float64(ox+marginL), float64(ox+marginL)+plotW
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", ox+marginL-50, oy+22, html.EscapeString(p.title))
	for g := 0; g <= 5; g++ {
		v := ymax * float64(g) / 5
		fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, right, y(v), y(v))
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, p.format(v))
	}
	for i, label := range p.xs {
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text>`+"\n", x(i), float64(oy+marginTop)+plotH+18, html.EscapeString(label))
	}
	fmt.Fprintf(b, `<text x="%.0f" y="%.0f" text-anchor="middle">%s</text>`+"\n", left+plotW/2, float64(oy+marginTop)+plotH+36, html.EscapeString(p.xLabel))
	for li, l := range p.lines {
		colour := palette[li%len(palette)]
		var pts []string
		for i, v := range l.ys {
			if math.IsNaN(v) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s, %s: %s</title></circle>`+"\n", x(i), y(v), colour, html.EscapeString(l.name), html.EscapeString(p.xs[i]), p.format(v))
		}
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colour, strings.Join(pts, " "))
		ly := oy + marginTop + 10 + 18*li
		fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", right+15, right+35, ly, ly, colour)
		fmt.Fprintf(b, `<text x="%.0f" y="%d">%s</text>`+"\n", right+40, ly+4, html.EscapeString(l.name))
	}
}

// SVG writes a plot of throughput against concurrency: one panel per read
// mix, one line per store.
func (r *Report) SVG(w io.Writer) error {
	mixes := distinct(r.Results, func(res Result) float64 { return res.Reads })
	concs := distinct(r.Results, func(res Result) int { return res.Concurrency })
	stores := distinct(r.Results, func(res Result) string { return res.Store })
	slices.Sort(concs)
	xs := labels(concs)
	var panels []panel
	for _, mix := range mixes {
		p := panel{title: MixName(mix) + ": requests/s through the middleware vs requests in flight", xLabel: "concurrency", xs: xs, format: humanCount}
		for _, store := range stores {
			l := line{name: store}
			for _, c := range concs {
				v := math.NaN()
				if res := r.find(store, mix, c); res != nil {
					v = res.PerSecond
				}
				l.ys = append(l.ys, v)
			}
			p.lines = append(p.lines, l)
		}
		panels = append(panels, p)
	}
	return writeFigure(w, panels, 1, machineNote(r.Machine))
}

// distinct returns the values of key over rs, each once, in the order
// they first appear.
func distinct[R any, K comparable](rs []R, key func(R) K) []K {
	var ks []K
	for _, r := range rs {
		if k := key(r); !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// labels returns the x labels of the values vs.
func labels(vs []int) []string {
	xs := make([]string, len(vs))
	for i, v := range vs {
		xs[i] = fmt.Sprint(v)
	}
	return xs
}

// machineNote is the line under a figure that says where it was measured.
func machineNote(m Machine) string {
	if m.LoadAverage == "" {
		return ""
	}
	return fmt.Sprintf("load average %s, %d CPUs", m.LoadAverage, m.CPUs)
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func humanCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// decimal formats a small value with two decimals, a larger one with
// fewer.
func decimal(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
