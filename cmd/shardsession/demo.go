package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/fleet"
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
	sentinel := fs.Bool("sentinel", true, "watch the shards with 3 redis-sentinel processes and follow their failovers (--sentinel=false: fixed addresses, a dead primary stays dead)")
	proxy := fs.String("proxy", "round-robin", "how the proxy spreads requests: round-robin, or sticky (each session cookie to one node, so that its near cache keeps serving it)")
	nearCache := fs.Bool("near-cache", false, "give every web node a near cache (sessions it read served from memory until another node changes them)")
	redisCluster := fs.Bool("redis-cluster", false, "keep the sessions in a local Redis Cluster (3 masters + 2 replicas each) instead of shards under Sentinel; --smoke then kills the session's master")
	managed := fs.Bool("managed", false, "run the shards as a managed Redis service does: CONFIG, MIGRATE and CLIENT refused, no Sentinel, each primary behind an endpoint that a failover repoints; --smoke then reshards onto a spare shard and fails over the session's shard")
	smoke := fs.Bool("smoke", false, "play a scripted login → whoami on every node → logout, then add and remove a shard with `shardsession reshard` while users log in and out (and, with sentinels, a login through the kill of its shard's primary), then exit (non-zero on any mismatch)")
	fs.Parse(args)
	sentinels := 0
	if *sentinel {
		sentinels = 3
	}
	policy, err := replica.ParsePolicy(*read)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 2
	}
	if *proxy != "round-robin" && *proxy != "sticky" {
		fmt.Fprintf(os.Stderr, "demo: --proxy %q: want round-robin or sticky\n", *proxy)
		return 2
	}
	if *smoke && *addr == "127.0.0.1:8080" {
		*addr = "127.0.0.1:0" // a scripted run must not fail because 8080 is taken
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// go-redis logs every dial that fails and every sentinel it asks; the
	// failover package's own lines (slog) say what matters.
	redis.SetLogger(quietLogger{})

	if *redisCluster {
		return demoRedisCluster(ctx, *nodes, *addr, *proxy == "sticky", *nearCache, *smoke)
	}
	if *managed {
		return demoManaged(ctx, *nodes, *addr, *proxy == "sticky", *smoke)
	}

	plural := map[bool]string{true: "s"}
	fmt.Printf("starting %d shards of redis-server (1 primary + %d replica%s each) and %d sentinels...\n", *shards, *replicas, plural[*replicas != 1], sentinels)
	top, err := redistest.StartTopology(ctx, redistest.TopologyOptions{Shards: *shards, Replicas: *replicas, Sentinels: sentinels})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer top.Close()
	printTopology(top)
	spare, err := redistest.Start(ctx, redistest.Options{Name: "spare"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer spare.Close()
	fmt.Printf("  spare redis-server for resharding: %s (pid %d)\n", spare.Addr(), spare.Pid())
	shardOpts := clustertest.ShardOptions(top)
	if sentinels > 0 {
		shardOpts = clustertest.SentinelShardOptions(top)
	}

	f, err := startFleet(fleet.Options{Cluster: cluster.Options{Shards: shardOpts, Replica: replica.Options{Policy: policy}}, Nodes: *nodes, Addr: *addr,
		NearCache: *nearCache, Sticky: *proxy == "sticky", Follow: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer f.Close()

	failover := sentinels > 0 && *replicas > 0 // a killed primary is replaced
	add := spareShard(top, spare)
	if *smoke {
		return demoSmoke(ctx, f, top, add, failover)
	}
	printHowTo(f, top, add, failover)
	fmt.Println("Ctrl-C stops everything.")
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return 0
}

// startFleet starts the demo's web nodes and proxy, with metrics, and lists
// the nodes.
func startFleet(opt fleet.Options) (*fleet.Fleet, error) {
	opt.Metrics = prometheus.NewRegistry()
	f, err := fleet.Start(opt)
	if err != nil {
		return nil, err
	}
	for i, u := range f.Nodes {
		fmt.Printf("  web node web-%d: %s\n", i+1, u)
	}
	return f, nil
}

// demoSmoke plays the scripted user against the fleet, then adds the shard
// add (name=host:port) and removes it again with the reshard command while
// users log in and out, and with failover also plays a login through the
// kill of its shard's primary; it returns the exit code.
func demoSmoke(ctx context.Context, f *fleet.Fleet, top *redistest.Topology, add string, failover bool) int {
	if err := fleet.Smoke(ctx, f.URL, len(f.Nodes), f.Sticky, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	name, _, _ := strings.Cut(add, "=")
	where := reshardWhere(top)
	changes := []fleet.Change{
		{Name: "shardsession reshard --add " + add, Run: reshardStep(where, "--add", add)},
		{Name: "shardsession reshard --remove " + name, Run: reshardStep(where, "--remove", name)},
	}
	if err := fleet.SmokeChanges(ctx, f.URL, len(f.Nodes), changes, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if failover {
		kill := func(shard string) (string, error) { return killPrimary(ctx, top, shard) }
		if _, err := fleet.SmokeFailover(ctx, f.URL, len(f.Nodes), kill, 30*time.Second, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// reshardWhere is how the reshard command finds the demo's shards: through
// the sentinels when there are some (so that the shards it describes are
// the web nodes' own), else by their addresses.
func reshardWhere(top *redistest.Topology) []string {
	if len(top.Sentinels) > 0 {
		return []string{"--sentinel", strings.Join(top.SentinelAddrs(), ",")}
	}
	return []string{"--shards", shardsFlag(top)}
}

// reshardStep runs the reshard command with where (reshardWhere) and args,
// as a reader would paste it.
func reshardStep(where []string, args ...string) func(context.Context, string) error {
	return func(ctx context.Context, _ string) error {
		if code := reshard(ctx, append(slices.Clone(where), args...), os.Stdout, os.Stderr); code != 0 {
			return fmt.Errorf("shardsession reshard exited %d", code)
		}
		return nil
	}
}

// spareShard names the spare server as the next shard: name=host:port.
func spareShard(top *redistest.Topology, spare *redistest.Server) string {
	return fmt.Sprintf("s%d=%s", len(top.Shards), spare.Addr())
}

// printHowTo tells the reader where to go and what to try.
func printHowTo(f *fleet.Fleet, top *redistest.Topology, add string, failover bool) {
	kind := "a round-robin proxy"
	if f.Sticky {
		kind = "a sticky proxy (by session cookie)"
	}
	fmt.Printf("\nopen %s — %s over the web nodes; Prometheus metrics at %s/metrics.\n", f.URL, kind, f.URL)
	check := "--shards " + shardsFlag(top)
	if len(top.Sentinels) > 0 {
		// The sentinels know the primaries after a failover too.
		check = "--sentinel " + strings.Join(top.SentinelAddrs(), ",")
	}
	fmt.Printf("check the shards from another terminal:\n  go run ./cmd/shardsession check %s\n", check)
	name, _, _ := strings.Cut(add, "=")
	where := strings.Join(reshardWhere(top), " ")
	fmt.Printf("add the spare server as a shard while you are logged in (the web nodes follow; your session may move):\n")
	fmt.Printf("  go run ./cmd/shardsession reshard %s --add %s\n", where, add)
	fmt.Printf("and remove it again (its sessions move back):\n")
	fmt.Printf("  go run ./cmd/shardsession reshard %s --remove %s\n", where, name)
	if failover {
		fmt.Println("kill a primary (kill -9 <pid> above; the page names your session's shard): its replicas serve")
		fmt.Println("reads, logins fail with 503 until Sentinel has promoted one (2-3 s with down-after-milliseconds 1000),")
		fmt.Println("then the web nodes follow the new primary and logins work again. The lines \"failover: ...\" below say when.")
	}
}

// printTopology lists the shards' servers with their process IDs, so that a
// reader can kill one.
func printTopology(top *redistest.Topology) {
	for _, s := range top.Shards {
		fmt.Printf("  shard %s: primary %s (pid %d)", s.Name, s.Primary.Addr(), s.Primary.Pid())
		for _, r := range s.Replicas {
			fmt.Printf(", replica %s (pid %d)", r.Addr(), r.Pid())
		}
		fmt.Println()
	}
	if len(top.Sentinels) > 0 {
		fmt.Printf("  sentinels: %s (quorum %d)\n", strings.Join(top.SentinelAddrs(), ", "), len(top.Sentinels)/2+1)
	}
}

// killPrimary kills the server the sentinels name as shard's primary now
// (after a failover, not the one started as primary) and says which.
func killPrimary(ctx context.Context, top *redistest.Topology, shard string) (string, error) {
	s, err := top.CurrentPrimary(ctx, shard)
	if err != nil {
		return "", err
	}
	what := fmt.Sprintf("the primary of %s at %s (pid %d)", shard, s.Addr(), s.Pid())
	return what, s.Kill()
}

// quietLogger drops go-redis's internal log lines.
type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// shardsFlag writes top's shards as check's --shards value.
func shardsFlag(top *redistest.Topology) string {
	return shardsText(clustertest.ShardOptions(top))
}
