package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/bench"
)

// A short run of `shardsession bench` on its own local topology writes the
// JSON, the Markdown and the plot, with a result for every store, mix and
// concurrency, in process and over loopback HTTP.
func TestBenchShortRun(t *testing.T) {
	for _, mode := range []string{"in-process", "http"} {
		t.Run(mode, func(t *testing.T) { benchShortRun(t, mode == "http") })
	}
}

func benchShortRun(t *testing.T, httpMode bool) {
	dir := t.TempDir()
	jsonPath, svgPath, mdPath := filepath.Join(dir, "b.json"), filepath.Join(dir, "b.svg"), filepath.Join(dir, "b.md")
	code := runBench([]string{"--duration", "100ms", "--sessions", "20", "--concurrency", "1,4", "--reads", "1,0.5",
		"--quiet", "--json", jsonPath, "--svg", svgPath, "--markdown", mdPath, "--http=" + strconv.FormatBool(httpMode)})
	if code != 0 {
		t.Fatalf("bench exited %d", code)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil || !strings.Contains(string(md), "| 4 | "+bench.NearCache+" |") || !strings.Contains(string(md), "**50% reads**") {
		t.Fatalf("markdown: %v\n%s", err, md)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Workload.HTTP != httpMode {
		t.Errorf("report says HTTP %v, want %v", rep.Workload.HTTP, httpMode)
	}
	if want := len(bench.StoreNames) * 2 * 2; len(rep.Results) != want {
		t.Fatalf("%d results, want %d", len(rep.Results), want)
	}
	for _, r := range rep.Results {
		if r.Requests == 0 || r.Errors != 0 || r.P50 <= 0 {
			t.Errorf("%+v: no requests, errors or no latencies", r)
		}
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil || !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), bench.NearCache) {
		t.Fatalf("plot: %v, %.80q", err, svg)
	}
}

func TestBenchBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--concurrency", "0"},
		{"--reads", "2"},
		{"--read-policy", "nearest"},
		{"--duration", "0s"},
		{"--nodes", "0"},
		{"--nodes", "2", "--proxy", "random"},
		{"--nodes", "2", "--near-cache", "sometimes"},
	} {
		if code := runBench(append(args, "--quiet")); code != 2 {
			t.Errorf("bench %v exited %d, want 2", args, code)
		}
	}
}

// bench --nodes runs the fleet simulation for every balancer and near
// cache asked for, and tables and plots each.
func TestBenchFleetShortRun(t *testing.T) {
	dir := t.TempDir()
	svgPath, mdPath := filepath.Join(dir, "f.svg"), filepath.Join(dir, "f.md")
	code := runBench([]string{"--nodes", "1,2", "--proxy", "round-robin", "--near-cache", "on,off", "--sessions", "20", "--rate", "100",
		"--duration", "500ms", "--idle", "300ms", "--svg", svgPath, "--markdown", mdPath})
	if code != 0 {
		t.Fatalf("bench exited %d", code)
	}
	md, err := os.ReadFile(mdPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{"| 1 | round-robin | yes |", "| 2 | round-robin | yes |", "| 1 | round-robin | no |", "| 2 | round-robin | no |"} {
		if !strings.Contains(string(md), row) {
			t.Errorf("no row %q in\n%s", row, md)
		}
	}
	svg, err := os.ReadFile(svgPath)
	if err != nil || !strings.Contains(string(svg), "round-robin, no near cache") {
		t.Fatalf("plot: %v, %.80q", err, svg)
	}
}

// bench --redis-cluster measures the cluster stores against the plain
// ClusterClient store, on a Redis Cluster it starts.
func TestBenchRedisClusterShortRun(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "b.json")
	if code := runBench([]string{"--redis-cluster", "--duration", "100ms", "--sessions", "20", "--concurrency", "2", "--reads", "0.5",
		"--quiet", "--json", jsonPath}); code != 0 {
		t.Fatalf("bench --redis-cluster exited %d", code)
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Baseline != bench.ClusterClient || len(rep.Results) != len(bench.RedisClusterStoreNames) {
		t.Fatalf("baseline %q, %d results", rep.Baseline, len(rep.Results))
	}
	for _, r := range rep.Results {
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%+v", r)
		}
	}
}
