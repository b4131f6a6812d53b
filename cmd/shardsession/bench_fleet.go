package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
)

// fleetFlags are bench's flags of the fleet simulation (--nodes).
type fleetFlags struct {
	nodes, proxy           string
	nearCache              string
	rate, sessions         int
	sentinels              int
	downAfter              time.Duration
	writes, minReuse       float64
	duration, warmup, idle time.Duration
}

// runFleet runs the fleet simulation on a local topology of shards
// (primary and replicas each, found through sentinels when there are any)
// and prints one table (and, with --svg, a plot of it).
func runFleet(ctx context.Context, ff fleetFlags, shards, replicas int, mdOut, svgOut string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	f := bench.Fleet{Sessions: ff.sessions, Rate: ff.rate, Writes: ff.writes, Duration: ff.duration, Warmup: ff.warmup, Idle: ff.idle,
		NearCache: cluster.NearCacheOptions{MinReuse: ff.minReuse}}
	for _, s := range splitList(ff.nodes) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: --nodes: %q is not a positive number\n", s)
			return 2
		}
		f.Nodes = append(f.Nodes, n)
	}
	proxies, err := pick("--proxy", ff.proxy, "sticky", "round-robin")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	caches, err := pick("--near-cache", ff.nearCache, "on", "off")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	fmt.Fprintf(os.Stderr, "starting %d local shards of redis-server (%d replicas each, %d sentinels)...\n", shards, replicas, ff.sentinels)
	top, err := redistest.StartTopology(ctx, redistest.TopologyOptions{Shards: shards, Replicas: replicas, Sentinels: ff.sentinels, DownAfter: ff.downAfter,
		// Room for the largest fleets: Redis refuses clients past maxclients.
		Args: []string{"--maxclients", "15000"}})
	if err != nil {
		return fail(err)
	}
	defer top.Close()
	f.Cluster = cluster.Options{Shards: clustertest.ShardOptions(top)}
	if ff.sentinels > 0 {
		f.Cluster.Shards = clustertest.SentinelShardOptions(top)
	}
	for _, sh := range top.Shards {
		f.Servers = append(f.Servers, bench.FleetServer{Addr: sh.Primary.Addr(), Role: bench.Primary})
		for _, r := range sh.Replicas {
			f.Servers = append(f.Servers, bench.FleetServer{Addr: r.Addr(), Role: bench.Replica})
		}
	}
	for _, s := range top.SentinelAddrs() {
		f.Servers = append(f.Servers, bench.FleetServer{Addr: s, Role: bench.Sentinel})
	}
	machine := bench.ThisMachine()
	rep := &bench.FleetReport{Machine: machine, Fleet: f, Shards: shards, Replicas: replicas, Sentinels: ff.sentinels, DownAfter: ff.downAfter}
	for _, cache := range caches {
		for _, sticky := range proxies {
			f.Sticky, f.NoNearCache = sticky, !cache
			rs, err := f.Run(ctx, func(r bench.FleetResult) {
				fmt.Fprintf(os.Stderr, "%d nodes (%s): %d requests, %.2f commands/request, %.0f%% hits\n",
					r.Nodes, r.Setup(), r.Requests, r.CommandsPerRequest, 100*r.HitRate)
			})
			rep.Results = append(rep.Results, rs...)
			if err != nil {
				return fail(err)
			}
		}
	}
	if mdOut != "-" { // the tables go to stdout once
		if err := rep.Markdown(os.Stdout); err != nil {
			return fail(err)
		}
	}
	if err := writeOut(mdOut, func(w io.Writer) error { return rep.Markdown(w) }); err != nil {
		return fail(err)
	}
	if err := writeOut(svgOut, rep.SVG); err != nil {
		return fail(err)
	}
	for _, r := range rep.Results {
		if r.Errors > 0 {
			return 1
		}
	}
	return 0
}

// pick reads a flag's comma-separated list of yes and no as booleans.
func pick(flag, list, yes, no string) ([]bool, error) {
	var vs []bool
	for _, v := range splitList(list) {
		switch v {
		case yes, no:
			vs = append(vs, v == yes)
		default:
			return nil, fmt.Errorf("%s: %q is neither %s nor %s", flag, v, yes, no)
		}
	}
	return vs, nil
}
