package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is a sweep's results with what they were measured on.
type Report struct {
	Machine  Machine  `json:"machine"`
	Shards   []string `json:"shards"`
	Workload Workload `json:"workload"`
	Rounds   int      `json:"rounds"`
	Results  []Result `json:"results"`
	// Baseline is the store the others are compared with. Default Ring.
	Baseline string `json:"baseline,omitempty"`
	// Topology describes the servers when they are not Shards (a Redis
	// Cluster).
	Topology string `json:"topology,omitempty"`
}

func (r *Report) baseline() string {
	if r.Baseline != "" {
		return r.Baseline
	}
	return Ring
}

// Machine describes where a report was measured.
type Machine struct {
	Time       time.Time `json:"time"`
	GoVersion  string    `json:"go_version"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	// LoadAverage is /proc/loadavg when the measurement started (the CLI
	// reads it before the first run): on a shared machine, numbers taken
	// under load are not comparable with others.
	LoadAverage string `json:"load_average,omitempty"`
}

// ThisMachine describes the running machine now.
func ThisMachine() Machine {
	m := Machine{Time: time.Now().UTC(), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		f := strings.Fields(string(b))
		m.LoadAverage = strings.Join(f[:min(3, len(f))], " ")
	}
	return m
}

// JSON writes the report as indented JSON.
func (r *Report) JSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// Table writes the results as a text table: one line per run, with its
// throughput as a multiple of the baseline store's and of the
// no-session limit's (None) in the same cell.
func (r *Report) Table(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "workload\tconcurrency\tstore\treq/s\tvs %s\tvs none\tp50\tp99\tp99.9\terrors\tcache hits\t\n", r.baseline())
	for _, res := range r.Results {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t\n", MixName(res.Reads), res.Concurrency, res.Store,
			res.PerSecond, r.ratio(res, r.baseline()), r.ratio(res, None), micros(res.P50), micros(res.P99), micros(res.P999), res.Errors, hitRate(res))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	r.firstErrors(w)
	return nil
}

// Markdown writes the results as Markdown: a heading with what the
// numbers were measured on, then one table per workload (read mix), a row
// per concurrency and store.
func (r *Report) Markdown(w io.Writer) error {
	mode := "in process (httptest request and recorder)"
	if r.Workload.HTTP {
		mode = "over loopback HTTP (keep-alive)"
	}
	where := fmt.Sprintf("%d shards", len(r.Shards))
	if r.Topology != "" {
		where = r.Topology
	}
	fmt.Fprintf(w, "%s, %d sessions of %d bytes, %v per run, median of %d round(s), requests %s; Go %s, %d CPUs, load average %s before the run, %s.\n",
		where, r.Workload.Sessions, r.Workload.ValueSize, r.Workload.Duration, r.Rounds, mode,
		r.Machine.GoVersion, r.Machine.CPUs, r.Machine.LoadAverage, r.Machine.Time.Format("2006-01-02"))
	var mix float64 = -1
	for _, res := range r.Results {
		if res.Reads != mix {
			mix = res.Reads
			fmt.Fprintf(w, "\n**%s**\n\n", MixName(mix))
			fmt.Fprintf(w, "| in flight | store | req/s | × %s | × none | p50 | p99 | near-cache hits | errors |\n", r.baseline())
			fmt.Fprintln(w, "|---:|---|---:|---:|---:|---:|---:|---:|---:|")
		}
		fmt.Fprintf(w, "| %d | %s | %.0f | %s | %s | %s | %s | %s | %d |\n", res.Concurrency, res.Store, res.PerSecond,
			r.ratio(res, r.baseline()), r.ratio(res, None), micros(res.P50), micros(res.P99), hitRate(res), res.Errors)
	}
	r.firstErrors(w)
	return nil
}

// ratio is res's throughput over the store base's in the same cell, "-"
// without one.
func (r *Report) ratio(res Result, base string) string {
	if b := r.find(base, res.Reads, res.Concurrency); b != nil && b.PerSecond > 0 && res.Store != base {
		return fmt.Sprintf("%.2f×", res.PerSecond/b.PerSecond)
	}
	return "-"
}

func hitRate(res Result) string {
	if res.CacheHitRate > 0 {
		return fmt.Sprintf("%.1f%%", 100*res.CacheHitRate)
	}
	return ""
}

// firstErrors writes the first error of each run that had some.
func (r *Report) firstErrors(w io.Writer) {
	for _, res := range r.Results {
		if res.FirstError != "" {
			fmt.Fprintf(w, "%s (%s, %d): first error: %s\n", res.Store, MixName(res.Reads), res.Concurrency, res.FirstError)
		}
	}
}

func (r *Report) find(store string, reads float64, conc int) *Result {
	for i, res := range r.Results {
		if res.Store == store && res.Reads == reads && res.Concurrency == conc {
			return &r.Results[i]
		}
	}
	return nil
}

// MixName names a read mix: "load" (reads only), "save" (writes only) or
// "90% reads".
func MixName(reads float64) string {
	switch {
	case reads >= 1:
		return "load"
	case reads <= 0:
		return "save"
	}
	return fmt.Sprintf("%.0f%% reads", 100*reads)
}

func micros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.1fms", us/1000)
	}
	return fmt.Sprintf("%.0fµs", us)
}
