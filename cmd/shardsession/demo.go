package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/examples/fleet"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
)

func init() {
	commands["demo"] = command{"three web nodes sharing sessions over a local Redis topology", runDemo}
}

func runDemo(args []string) int {
	fs := flag.NewFlagSet("demo", flag.ExitOnError)
	shards := fs.Int("shards", 3, "number of shards")
	replicas := fs.Int("replicas", 2, "replicas per shard")
	read := fs.String("read", "replica-preferred", "read policy: primary-only, replica-preferred or lowest-latency")
	nodes := fs.Int("nodes", 3, "number of web nodes")
	addr := fs.String("addr", "127.0.0.1:8080", "the proxy's listen address (the URL to visit)")
	smoke := fs.Bool("smoke", false, "play a scripted login → whoami on every node → logout, then exit (non-zero on any mismatch)")
	fs.Parse(args)
	policy, err := replica.ParsePolicy(*read)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}
	if *smoke && *addr == "127.0.0.1:8080" {
		*addr = "127.0.0.1:0" // a scripted run must not fail because 8080 is taken
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("starting %d shards of redis-server (1 primary + %d replica each)...\n", *shards, *replicas)
	top, err := redistest.StartTopology(ctx, redistest.TopologyOptions{Shards: *shards, Replicas: *replicas})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer top.Close()
	for _, s := range top.Shards {
		fmt.Printf("  shard %s: primary %s", s.Name, s.Primary.Addr())
		for _, r := range s.Replicas {
			fmt.Printf(", replica %s", r.Addr())
		}
		fmt.Println()
	}

	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top), Replica: replica.Options{Policy: policy}}, Nodes: *nodes, Addr: *addr, Metrics: prometheus.NewRegistry()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer f.Close()
	for i, u := range f.Nodes {
		fmt.Printf("  web node web-%d: %s\n", i+1, u)
	}

	if *smoke {
		if err := fleet.Smoke(ctx, f.URL, len(f.Nodes), os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Printf("\nopen %s — a round-robin proxy over the web nodes; Prometheus metrics at %s/metrics.\n", f.URL, f.URL)
	fmt.Printf("check the shards from another terminal:\n  go run ./cmd/shardsession check --shards %s\n", shardsFlag(top))
	fmt.Println("Ctrl-C stops everything.")
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return 0
}

// shardsFlag writes top's shards as check's --shards value.
func shardsFlag(top *redistest.Topology) string {
	parts := make([]string, len(top.Shards))
	for i, s := range top.Shards {
		parts[i] = s.Name + "=" + s.Primary.Addr()
		for _, r := range s.Replicas {
			parts[i] += "+" + r.Addr()
		}
	}
	return strings.Join(parts, ",")
}
