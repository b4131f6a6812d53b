package bench

import (
	"fmt"
	"html"
	"io"
	"slices"
	"strings"
)

// palette colours the stores' lines, in the order they first appear.
var palette = []string{"#7f7f7f", "#d62728", "#1f77b4", "#9467bd", "#2ca02c", "#ff7f0e", "#8c564b"}

// SVG writes a plot of throughput against concurrency: one panel per read
// mix, one line per store. Concurrencies are spaced evenly, whatever
// their values.
func (r *Report) SVG(w io.Writer) error {
	var mixes []float64
	var concs []int
	var stores []string
	for _, res := range r.Results {
		if !slices.Contains(mixes, res.Reads) {
			mixes = append(mixes, res.Reads)
		}
		if !slices.Contains(concs, res.Concurrency) {
			concs = append(concs, res.Concurrency)
		}
		if !slices.Contains(stores, res.Store) {
			stores = append(stores, res.Store)
		}
	}
	slices.Sort(concs)
	const (
		pw, ph                   = 560, 340 // one panel
		left, right, top, bottom = 70, 190, 40, 50
	)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", pw, ph*len(mixes))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, mix := range mixes {
		oy := i * ph
		plotW, plotH := float64(pw-left-right), float64(ph-top-bottom)
		ymax := 0.0
		for _, res := range r.Results {
			if res.Reads == mix {
				ymax = max(ymax, res.PerSecond)
			}
		}
		ymax = niceCeil(ymax)
		x := func(c int) float64 {
			if len(concs) == 1 {
				return left + plotW/2
			}
			return left + plotW*float64(slices.Index(concs, c))/float64(len(concs)-1)
		}
		y := func(v float64) float64 { return float64(oy+top) + plotH*(1-v/ymax) }
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s: requests/s through the middleware vs requests in flight</text>`+"\n", left-50, oy+22, html.EscapeString(MixName(mix)))
		for g := 0; g <= 5; g++ {
			v := ymax * float64(g) / 5
			fmt.Fprintf(&b, `<line x1="%d" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+plotW, y(v), y(v))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, humanCount(v))
		}
		for _, c := range concs {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x(c), float64(oy+top)+plotH+18, c)
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">concurrency</text>`+"\n", left+plotW/2, float64(oy+top)+plotH+36)
		for si, store := range stores {
			colour := palette[si%len(palette)]
			var pts []string
			for _, c := range concs {
				if res := r.find(store, mix, c); res != nil {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(c), y(res.PerSecond)))
					fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %d: %.0f req/s</title></circle>`+"\n", x(c), y(res.PerSecond), colour, html.EscapeString(store), c, res.PerSecond)
				}
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", colour, strings.Join(pts, " "))
			ly := oy + top + 10 + 18*si
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", pw-right+15, pw-right+35, ly, ly, colour)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", pw-right+40, ly+4, html.EscapeString(store))
		}
	}
	if r.Machine.LoadAverage != "" {
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#777">load average %s, %d CPUs</text>`+"\n", pw-right+15, ph*len(mixes)-12, html.EscapeString(r.Machine.LoadAverage), r.Machine.CPUs)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
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
