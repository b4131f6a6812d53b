package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/fleet"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// demoManaged runs the demo on a topology that behaves as a managed Redis
// service: 3 shards of a primary and a replica whose servers refuse CONFIG,
// MIGRATE and CLIENT, no Sentinel, each primary behind an endpoint that a
// failover repoints. A fourth such shard is the spare to reshard onto. It
// returns the exit code.
func demoManaged(ctx context.Context, nodes int, addr string, sticky, smoke bool) int {
	const shards = 3
	fmt.Println("starting 4 shards of redis-server (1 primary + 1 replica each) as a managed service runs them:")
	fmt.Println("CONFIG, MIGRATE and CLIENT refused, no Sentinel, each primary behind an endpoint; the 4th shard is a spare...")
	m, err := redistest.StartManaged(ctx, redistest.TopologyOptions{Shards: shards + 1, Replicas: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer m.Close()
	for _, sh := range m.Shards {
		fmt.Printf("  shard %s: endpoint %s → primary %s (pid %d)", sh.Name, m.Endpoints[sh.Name].Addr(), sh.Primary.Addr(), sh.Primary.Pid())
		for _, r := range sh.Replicas {
			fmt.Printf(", replica %s (pid %d)", r.Addr(), r.Pid())
		}
		if sh == m.Shards[shards] {
			fmt.Print("  (spare)")
		}
		fmt.Println()
	}
	opts := managedShards(m)
	f, err := startFleet(fleet.Options{Cluster: cluster.Options{Shards: opts[:shards]}, Nodes: nodes, Addr: addr, Sticky: sticky, Follow: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer f.Close()
	where := []string{"--shards", shardsText(opts[:shards])}
	add := shardsText(opts[shards:])
	name := opts[shards].Name
	failover := func(ctx context.Context, shard string) error {
		what, err := m.Failover(ctx, shard)
		if err == nil {
			fmt.Printf("failed over: killed %s\n", what)
		}
		return err
	}
	if smoke {
		if err := fleet.Smoke(ctx, f.URL, len(f.Nodes), f.Sticky, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		changes := []fleet.Change{
			{Name: "shardsession reshard --add " + add, Run: reshardStep(where, "--add", add)},
			{Name: "a failover of the session's shard behind its endpoint", Run: failover, Outage: true},
		}
		if err := fleet.SmokeChanges(ctx, f.URL, len(f.Nodes), changes, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Printf("\nopen %s — a proxy over the web nodes; Prometheus metrics at %s/metrics.\n", f.URL, f.URL)
	fmt.Printf("check the shards from another terminal (it lists what they refuse):\n  go run ./cmd/shardsession check %s\n", strings.Join(where, " "))
	fmt.Printf("add the spare shard while you are logged in (the servers refuse MIGRATE: keys are moved by copy):\n")
	fmt.Printf("  go run ./cmd/shardsession reshard %s --add %s\n", strings.Join(where, " "), add)
	fmt.Printf("and remove it again:\n  go run ./cmd/shardsession reshard %s,%s --remove %s\n", where[1], add, name)
	fmt.Println("fail over a shard as the provider would (its primary killed, the replica promoted, the endpoint")
	fmt.Println("repointed): type its name here, e.g. s0, and Enter. The web nodes notice the new server behind the")
	fmt.Println("endpoint and react as to a Sentinel switch (the lines \"failover: ...\" below).")
	fmt.Println("Ctrl-C stops everything.")
	go func() {
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			if shard := strings.TrimSpace(lines.Text()); shard != "" {
				if err := failover(ctx, shard); err != nil {
					fmt.Fprintln(os.Stderr, "demo:", err)
				}
			}
		}
	}()
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return 0
}

// managedShards describes m's shards as a web node on a managed service
// does: the primary endpoint as Addr, the replicas by address.
func managedShards(m *redistest.Managed) []shard.Options {
	opts := make([]shard.Options, len(m.Shards))
	for i, sh := range m.Shards {
		opts[i] = shard.Options{Name: sh.Name, Addr: m.Endpoints[sh.Name].Addr()}
		for _, r := range sh.Replicas {
			opts[i].Replicas = append(opts[i].Replicas, r.Addr())
		}
	}
	return opts
}

// shardsText writes shard options as the CLI's --shards value.
func shardsText(opts []shard.Options) string {
	parts := make([]string, len(opts))
	for i, o := range opts {
		parts[i] = o.Name + "=" + strings.Join(append([]string{o.Addr}, o.Replicas...), "+")
	}
	return strings.Join(parts, ",")
}
