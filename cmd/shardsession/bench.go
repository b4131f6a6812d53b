package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/shardsession/shardsession/bench"
	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
)

func init() {
	commands["bench"] = command{"measure session loads and saves against the plain go-redis Ring, side by side", runBench}
}

func runBench(args []string) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	shardsFlag := fs.String("shards", "", "shards to use, as host:port,... or name=host:port,... (default: start a local topology of redis-server processes)")
	localShards := fs.Int("local-shards", 3, "shards of the local topology")
	replicas := fs.Int("replicas", 0, "replicas per shard of the local topology")
	storesFlag := fs.String("stores", strings.Join(bench.StoreNames, ","), "stores to compare ("+strings.Join(bench.StoreNames, ", ")+"); "+bench.Ring+" is the baseline, "+bench.None+" the same requests with no sessions")
	cache := fs.Bool("cache", true, "include shardsession with its near cache ("+bench.NearCache+")")
	sessions := fs.Int("sessions", 1000, "sessions stored and used")
	concurrency := fs.String("concurrency", "1,16,64", "requests in flight, one run per value")
	reads := fs.String("reads", "1,0", "fraction of requests that only read (the rest write one value), one run per value: 1 = load, 0 = save")
	valueSize := fs.Int("value-size", 1024, "bytes of values per session, over four values")
	duration := fs.Duration("duration", time.Second, "length of each run")
	rounds := fs.Int("rounds", 1, "repeat each run, stores taking turns; the median is kept")
	policy := fs.String("read-policy", "primary-only", "replica read policy of the shardsession stores: primary-only, replica-preferred, lowest-latency (with --replicas or replicas in --shards)")
	httpMode := fs.Bool("http", false, "send requests over loopback HTTP connections (keep-alive) instead of calling the handler in process")
	jsonOut := fs.String("json", "", "write the results as JSON to this file (- for stdout)")
	mdOut := fs.String("markdown", "", "write the results as Markdown tables, one per workload, to this file (- for stdout)")
	svgOut := fs.String("svg", "", "write a plot of requests/s against concurrency (with --nodes: of the servers' cost against the number of web nodes) to this SVG file")
	quiet := fs.Bool("quiet", false, "no progress bar")
	redisCluster := fs.Bool("redis-cluster", false, "measure on a local Redis Cluster (3 masters + 1 replica each) instead of shards: the plain go-redis ClusterClient store (the baseline), rueidis's cluster client with DoCache, and shardsession's rediscluster with and without its near cache (--stores from "+strings.Join(bench.RedisClusterStoreNames, ", ")+")")
	var ff fleetFlags
	fs.StringVar(&ff.nodes, "nodes", "", "run the fleet simulation instead: these numbers of web nodes in turn (e.g. 1,10,50,200), each a Cluster + NearCache + Follow + Watch + Manager, sharing a fixed total workload, and report what they cost the servers")
	fs.StringVar(&ff.proxy, "proxy", "round-robin", "fleet simulation: how requests reach the nodes: round-robin, sticky (by session token), or both as a list")
	fs.StringVar(&ff.nearCache, "near-cache", "on", "fleet simulation: whether each node has a near cache: on, off (a plain Cluster, events on subscriptions of its own), or both as a list")
	fs.IntVar(&ff.rate, "rate", 800, "fleet simulation: requests per second over the whole fleet")
	fs.Float64Var(&ff.writes, "writes", 0.1, "fleet simulation: fraction of requests that change their session")
	fs.IntVar(&ff.sentinels, "sentinels", 0, "fleet simulation: sentinels of the local topology (the nodes then find the primaries through them)")
	fs.DurationVar(&ff.downAfter, "down-after", 30*time.Second, "fleet simulation: the sentinels' down-after-milliseconds (Sentinel's default); while reads go to the replicas, a node pings a quiet primary every quarter of it")
	fs.Float64Var(&ff.minReuse, "min-reuse", 0, "fleet simulation: the near caches' NearCacheOptions.MinReuse, the hits per cached session below which a cache takes in only a sample (0: the default, 0.1; negative: every session)")
	fs.DurationVar(&ff.warmup, "warmup", 0, "fleet simulation: unmeasured traffic before each run's measured window, so that it finds the nodes' near caches in their steady state")
	fs.DurationVar(&ff.idle, "idle", 30*time.Second, "fleet simulation: quiet window per run, to measure the nodes' idle traffic (their background work comes every 10 to 30 s: topology polls, acknowledgements, subscription checks)")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if ff.nodes != "" {
		if *shardsFlag != "" {
			fmt.Fprintln(os.Stderr, "bench: --nodes runs on a local topology it starts; --shards cannot be used with it")
			return 2
		}
		ff.sessions, ff.duration = *sessions, *duration
		if !flagSet(fs, "sessions") {
			ff.sessions = 2000
		}
		if !flagSet(fs, "duration") {
			ff.duration = 5 * time.Second
		}
		if !flagSet(fs, "replicas") {
			*replicas = 1
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return runFleet(ctx, ff, *localShards, *replicas, *mdOut, *svgOut)
	}
	sweep, err := benchSweep(*sessions, *valueSize, *duration, *rounds, *concurrency, *reads)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	sweep.Base.HTTP = *httpMode
	names := splitList(*storesFlag)
	if *redisCluster && !flagSet(fs, "stores") {
		names = slices.Clone(bench.RedisClusterStoreNames)
	}
	if !*cache {
		names = slices.DeleteFunc(names, func(n string) bool { return n == bench.NearCache || n == bench.RedisClusterNearCache })
	}
	rp, err := replica.ParsePolicy(*policy)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &bench.Report{Workload: sweep.Base, Rounds: *rounds, Baseline: bench.Baseline(names)}
	var stores *bench.Stores
	if *redisCluster {
		rep.Baseline = bench.Baseline(names)
		fmt.Fprintln(os.Stderr, "starting a local Redis Cluster of redis-server (3 masters + 1 replica each)...")
		rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
		if err != nil {
			return fail(err)
		}
		defer rc.Close()
		rep.Topology = "a Redis Cluster of 3 masters + 1 replica each"
		if stores, err = bench.OpenRedisClusterStores(ctx, rc.Addrs(), names); err != nil {
			return fail(err)
		}
	} else {
		shards, closeTop, err := benchShards(ctx, *shardsFlag, *localShards, *replicas)
		if err != nil {
			return fail(err)
		}
		defer closeTop()
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		stores, err = bench.OpenStores(octx, cluster.Options{Shards: shards, Replica: replica.Options{Policy: rp}}, names)
		cancel()
		if err != nil {
			return fail(err)
		}
		for _, s := range shards {
			rep.Shards = append(rep.Shards, s.Name+"="+s.Addr)
		}
	}
	defer stores.Close()

	cells := sweep.Cells(len(names))
	fmt.Fprintf(os.Stderr, "%d stores × %d runs of %v (plus seeding %d sessions each)\n", len(names), cells/len(names), *duration, *sessions)
	var bar *progressbar.ProgressBar
	if !*quiet {
		bar = progressbar.NewOptions(cells, progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowCount(),
			progressbar.OptionSetDescription("seeding"), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
		bar.RenderBlank()
	}
	// The machine as the run starts: its load average then is other work's,
	// where at the end it is mostly the benchmark's own.
	machine := bench.ThisMachine()
	results, err := sweep.Run(ctx, stores, func(r bench.Result) {
		if bar != nil {
			bar.Describe(fmt.Sprintf("%s c=%d %s", bench.MixName(r.Reads), r.Concurrency, r.Store))
			bar.Add(1)
		}
	})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return fail(err)
	}
	rep.Machine, rep.Results = machine, results
	where := fmt.Sprintf("%d shards", len(rep.Shards))
	if rep.Topology != "" {
		where = rep.Topology
	}
	fmt.Printf("\n%s, %d sessions of %d bytes, %v per run, %d round(s); %d CPUs, load average %s\n\n",
		where, *sessions, *valueSize, *duration, *rounds, rep.Machine.CPUs, rep.Machine.LoadAverage)
	rep.Table(os.Stdout)
	if err := writeOut(*mdOut, rep.Markdown); err != nil {
		return fail(err)
	}
	if err := writeOut(*jsonOut, rep.JSON); err != nil {
		return fail(err)
	}
	if err := writeOut(*svgOut, rep.SVG); err != nil {
		return fail(err)
	}
	for _, r := range results {
		if r.Errors > 0 {
			return 1
		}
	}
	return 0
}

// flagSet reports whether the command line set the flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// benchSweep builds the sweep from the flags' values.
func benchSweep(sessions, valueSize int, duration time.Duration, rounds int, concurrency, reads string) (bench.Sweep, error) {
	s := bench.Sweep{Base: bench.Workload{Sessions: sessions, ValueSize: valueSize, Duration: duration}, Rounds: rounds}
	for _, c := range splitList(concurrency) {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return s, fmt.Errorf("--concurrency: %q is not a positive number", c)
		}
		s.Concurrencies = append(s.Concurrencies, n)
	}
	for _, r := range splitList(reads) {
		f, err := strconv.ParseFloat(r, 64)
		if err != nil || f < 0 || f > 1 {
			return s, fmt.Errorf("--reads: %q is not a fraction between 0 and 1", r)
		}
		s.Reads = append(s.Reads, f)
	}
	if sessions < 1 || valueSize < 1 || duration <= 0 || rounds < 1 {
		return s, errors.New("--sessions, --value-size, --duration and --rounds must be positive")
	}
	return s, nil
}

// benchShards returns the shards to measure: those given, or a local
// topology started for the run (closed by the returned func).
func benchShards(ctx context.Context, text string, local, replicas int) ([]shard.Options, func(), error) {
	if text != "" {
		items := splitList(text)
		for i, it := range items {
			if !strings.Contains(it, "=") {
				items[i] = fmt.Sprintf("s%d=%s", i, it)
			}
		}
		shards, err := cluster.ParseShards(strings.Join(items, ","))
		return shards, func() {}, err
	}
	fmt.Fprintf(os.Stderr, "starting %d local shards of redis-server (%d replicas each)...\n", local, replicas)
	top, err := redistest.StartTopology(ctx, redistest.TopologyOptions{Shards: local, Replicas: replicas})
	if err != nil {
		return nil, nil, err
	}
	return clustertest.ShardOptions(top), func() { top.Close() }, nil
}

// writeOut writes with write to path: nothing for "", stdout for "-".
func writeOut(path string, write func(io.Writer) error) error {
	switch path {
	case "":
		return nil
	case "-":
		return write(os.Stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
