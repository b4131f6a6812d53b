package bench

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/store"
)

// Fleet measures what a fleet of web nodes costs the Redis servers it
// shares, as the fleet grows and its total traffic does not: for each
// number of nodes it starts that many nodes in this process, each the way
// a web node of a real fleet is built (its own Cluster, NearCache, Follow,
// Watch and Manager), spreads a fixed request rate over them, and reads
// the servers' own counters (INFO) before and after. Counting on the
// servers, not in the client, is what makes it a measure of the fleet's
// cost on Redis whatever the library does.
type Fleet struct {
	// Cluster is every node's Cluster options (the shards).
	Cluster cluster.Options
	// Servers are the servers whose counters are read. Required.
	Servers []FleetServer
	// Nodes are the fleet sizes to measure, one run each. Default 1, 10.
	Nodes []int
	// Sessions is the number of sessions the traffic uses. Default 2,000.
	Sessions int
	// Rate is the fleet's total requests per second. Default 800.
	Rate int
	// Writes is the fraction of requests that change their session.
	// Default 0.1.
	Writes float64
	// Duration is the length of each run's traffic. Default 5 s.
	Duration time.Duration
	// Warmup is traffic sent before the measured window, as Duration's
	// is, so that the window finds the nodes' caches in their steady
	// state (each has judged what to take in: NearCacheOptions.MinReuse).
	// Its requests are not counted, but for their errors. Default none.
	Warmup time.Duration
	// Idle is the length of each run's quiet window, in which the nodes
	// serve nothing. Default 5 s.
	Idle time.Duration
	// Sticky routes every request of a session to the same node, as a
	// balancer that hashes the session cookie does; otherwise requests go
	// to the nodes in turn (round-robin).
	Sticky bool
	// NoNearCache builds the nodes without a near cache: each serves its
	// loads from its Cluster and watches events on subscriptions of its
	// own. What a fleet costs with no cache at all is the bound of what
	// one behind round-robin costs as it grows.
	NoNearCache bool
	// NearCache is every node's near cache options (the zero value: the
	// defaults).
	NearCache cluster.NearCacheOptions
}

// FleetServer is a Redis server (or sentinel) whose counters Fleet reads.
type FleetServer struct {
	Addr string
	Role Role
}

// Role is what a FleetServer is to the fleet.
type Role string

// The roles of a FleetServer.
const (
	Primary  Role = "primary"
	Replica  Role = "replica"
	Sentinel Role = "sentinel"
)

// FleetResult is one fleet size's run.
type FleetResult struct {
	Nodes     int
	Sticky    bool
	NearCache bool
	Requests  int64 // served in the traffic window
	Writes    int64
	Errors    int64

	// Connections the fleet holds, per server of each kind: the mean
	// over the servers of the kind during the traffic window, less those
	// open before the nodes started.
	ConnsPerPrimary, ConnsPerReplica, ConnsPerSentinel float64
	// CommandsPerRequest is the commands the primaries processed during
	// the traffic window per request served (a script counts the commands
	// it runs).
	CommandsPerRequest float64
	// RoundTripsPerRequest is the primaries' reads from their sockets during
	// the traffic window per request served (INFO's
	// total_reads_processed): the round trips, however many commands each
	// carried. A server's CPU goes mostly to these where commands are
	// small.
	RoundTripsPerRequest float64
	// PrimaryCPUPer1000 is the primaries' CPU time (user + system, from
	// INFO cpu) per 1,000 requests, in milliseconds.
	PrimaryCPUPer1000 float64
	// PushesPerWrite is the invalidations the nodes were sent per write.
	PushesPerWrite float64
	// HitRate is the fraction of the nodes' loads served from their near
	// caches.
	HitRate float64
	// SampleOnly is the fraction of nodes whose near cache took in only
	// its sample of sessions at the end of the traffic window, having
	// found too few of those it held reused (NearCacheOptions.MinReuse).
	SampleOnly float64
	// TrackedPerSession is the number of nodes the primaries remember as
	// holding a session, per session, after the traffic window (the growth
	// of INFO's tracking_total_items over all primaries since before the
	// nodes started, divided by Sessions): the size of the servers'
	// tracking tables, which a write, delete or expiry of a key empties of
	// it.
	TrackedPerSession float64
	// IdlePerPrimary, IdlePerReplica and IdlePerSentinel are the
	// commands per second each node sends each server of the kind while
	// it serves nothing: what the servers count while the nodes idle,
	// less ServersIdle, divided by the nodes.
	IdlePerPrimary, IdlePerReplica, IdlePerSentinel float64
	// ServersIdle is the commands per second each server of a kind
	// counts over Idle with no node running (replication, the sentinels'
	// monitoring of the primaries and of each other), measured once per
	// Run, before the first fleet.
	ServersIdle map[Role]float64
}

func (f *Fleet) init() {
	if len(f.Nodes) == 0 {
		f.Nodes = []int{1, 10}
	}
	if f.Sessions <= 0 {
		f.Sessions = 2000
	}
	if f.Rate <= 0 {
		f.Rate = 800
	}
	if f.Writes <= 0 {
		f.Writes = 0.1
	}
	if f.Duration <= 0 {
		f.Duration = 5 * time.Second
	}
	if f.Idle <= 0 {
		f.Idle = 5 * time.Second
	}
}

// Run measures every fleet size in turn; done, if set, is called after
// each.
func (f Fleet) Run(ctx context.Context, done func(FleetResult)) ([]FleetResult, error) {
	f.init()
	if len(f.Servers) == 0 {
		return nil, errors.New("bench: fleet: no servers to read counters from")
	}
	probe := newProbe(f.Servers)
	defer probe.close()
	own, err := f.idleRates(ctx, probe) // no node runs yet
	if err != nil {
		return nil, fmt.Errorf("bench: fleet: the servers' own idle traffic: %w", err)
	}
	var results []FleetResult
	for _, n := range f.Nodes {
		r, err := f.run(ctx, probe, n, own)
		if err != nil {
			return results, fmt.Errorf("bench: fleet of %d nodes: %w", n, err)
		}
		results = append(results, r)
		if done != nil {
			done(r)
		}
	}
	return results, nil
}

// idleRates returns the commands per second each server of a kind counts
// over Idle, from now.
func (f *Fleet) idleRates(ctx context.Context, probe *probe) (map[Role]float64, error) {
	before, err := probe.read(ctx)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, f.Idle); err != nil {
		return nil, err
	}
	after, err := probe.read(ctx)
	if err != nil {
		return nil, err
	}
	secs := after.at.Sub(before.at).Seconds()
	rates := map[Role]float64{}
	for _, role := range []Role{Primary, Replica, Sentinel} {
		rates[role] = after.perServer(before, role, counterCommands) / secs
	}
	return rates, nil
}

// fleetNode is one simulated web node.
type fleetNode struct {
	c       *cluster.Cluster
	nc      *cluster.NearCache // nil with Fleet.NoNearCache
	follow  *cluster.Follower
	handler http.Handler
	stop    context.CancelFunc
}

func (n *fleetNode) close() {
	if n.stop != nil {
		n.stop()
	}
	if n.follow != nil {
		n.follow.Close()
	}
	if n.nc != nil {
		n.nc.Close()
	}
	n.c.Close()
}

// startNode builds a web node as the documentation recommends.
func (f *Fleet) startNode(ctx context.Context) (*fleetNode, error) {
	c, err := cluster.New(f.Cluster)
	if err != nil {
		return nil, err
	}
	n := &fleetNode{c: c}
	if n.follow, err = c.Follow(ctx, cluster.FollowOptions{}); err != nil {
		n.close()
		return nil, err
	}
	wctx, stop := context.WithCancel(context.Background())
	n.stop = stop
	ignore := func(store.Event) {}
	if f.NoNearCache {
		go c.Watch(wctx, ignore, nil) // on subscriptions of its own
		n.handler = Handler(Manager(c), 1024)
		return n, nil
	}
	if n.nc, err = cluster.NewNearCache(c, f.NearCache); err != nil {
		n.close()
		return nil, err
	}
	go n.nc.Watch(wctx, ignore, nil) // on the tracking connections
	if err := n.nc.Ready(ctx); err != nil {
		n.close()
		return nil, err
	}
	n.handler = Handler(Manager(n.nc), 1024)
	return n, nil
}

func (f *Fleet) run(ctx context.Context, probe *probe, size int, own map[Role]float64) (FleetResult, error) {
	res := FleetResult{Nodes: size, Sticky: f.Sticky, NearCache: !f.NoNearCache, ServersIdle: own}
	base, err := probe.read(ctx)
	if err != nil {
		return res, err
	}
	nodes := make([]*fleetNode, 0, size)
	defer func() {
		for _, n := range nodes {
			n.close()
		}
	}()
	for range size {
		n, err := f.startNode(ctx)
		if err != nil {
			return res, err
		}
		nodes = append(nodes, n)
	}
	// Seeded around the nodes, so that every node's cache starts empty.
	seeder, err := cluster.New(f.Cluster)
	if err != nil {
		return res, err
	}
	tokens, err := Seed(ctx, Manager(seeder), f.Sessions, 1024)
	seeder.Close()
	if err != nil {
		return res, err
	}

	// Idle: the nodes serve nothing; what they send is their own. The
	// replicas first finish applying the seeding (a replica counts the
	// commands its primary streams to it).
	if err := sleep(ctx, time.Second); err != nil {
		return res, err
	}
	rates, err := f.idleRates(ctx, probe)
	if err != nil {
		return res, err
	}
	idle := func(role Role) float64 { return max(0, rates[role]-own[role]) / float64(size) }
	res.IdlePerPrimary, res.IdlePerReplica, res.IdlePerSentinel = idle(Primary), idle(Replica), idle(Sentinel)

	// Traffic: Rate requests per second over the nodes.
	seed := maphash.MakeSeed() // the sticky balancer's, for the warmup and the window
	if f.Warmup > 0 {
		var warm FleetResult
		f.traffic(ctx, nodes, tokens, seed, f.Warmup, &warm)
		res.Errors += warm.Errors
	}
	stats0 := nearStats(nodes)
	before, err := probe.read(ctx)
	if err != nil {
		return res, err
	}
	f.traffic(ctx, nodes, tokens, seed, f.Duration, &res)
	after, err := probe.read(ctx)
	if err != nil {
		return res, err
	}
	stats1 := nearStats(nodes)
	for _, role := range []Role{Primary, Replica, Sentinel} {
		conns := after.mean(role, counterClients) - base.mean(role, counterClients)
		switch role {
		case Primary:
			res.ConnsPerPrimary = conns
		case Replica:
			res.ConnsPerReplica = conns
		case Sentinel:
			res.ConnsPerSentinel = conns
		}
	}
	if res.Requests > 0 {
		res.CommandsPerRequest = after.sum(before, Primary, counterCommands) / float64(res.Requests)
		res.RoundTripsPerRequest = after.sum(before, Primary, counterReads) / float64(res.Requests)
		res.PrimaryCPUPer1000 = after.sum(before, Primary, counterCPU) * 1000 / float64(res.Requests) * 1000
	}
	if res.Writes > 0 {
		res.PushesPerWrite = float64(stats1.Invalidations-stats0.Invalidations) / float64(res.Writes)
	}
	if loads := (stats1.Hits - stats0.Hits) + (stats1.Misses - stats0.Misses); loads > 0 {
		res.HitRate = float64(stats1.Hits-stats0.Hits) / float64(loads)
	}
	res.SampleOnly = float64(stats1.Bypassing) / float64(size)
	// Less what was tracked before the nodes started: Redis forgets what a
	// closed connection held only when the key is next written or expires.
	res.TrackedPerSession = (after.total(Primary, counterTracked) - base.total(Primary, counterTracked)) / float64(len(tokens))
	return res, nil
}

// traffic sends f.Rate requests per second for d, spread over the nodes
// (by a hash of the session token with seed, when sticky), and counts them
// in res.
func (f *Fleet) traffic(ctx context.Context, nodes []*fleetNode, tokens []string, seed maphash.Seed, d time.Duration, res *FleetResult) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var next atomic.Uint64
	jobs := make(chan int) // token index
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				n := nodes[next.Add(1)%uint64(len(nodes))]
				if f.Sticky {
					n = nodes[maphash.String(seed, tokens[i])%uint64(len(nodes))]
				}
				path := "/read"
				if rand.Float64() < f.Writes {
					path = "/write"
					atomic.AddInt64(&res.Writes, 1)
				}
				req := httptest.NewRequest("GET", path, nil)
				req.AddCookie(&http.Cookie{Name: CookieName, Value: tokens[i]})
				rec := httptest.NewRecorder()
				n.handler.ServeHTTP(rec, req)
				atomic.AddInt64(&res.Requests, 1)
				if rec.Code != http.StatusOK {
					atomic.AddInt64(&res.Errors, 1)
				}
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(f.Rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			// Catch up on ticks the ticker dropped, so the rate holds.
			due := int(time.Since(start).Seconds() * float64(f.Rate))
			for ; sent < due; sent++ {
				select {
				case jobs <- rand.IntN(len(tokens)):
				case <-ctx.Done():
					break loop
				}
			}
		}
	}
	close(jobs)
	wg.Wait()
}

func nearStats(nodes []*fleetNode) cluster.NearCacheStats {
	var s cluster.NearCacheStats
	for _, n := range nodes {
		if n.nc == nil {
			continue
		}
		ns := n.nc.Stats()
		s.Hits += ns.Hits
		s.Misses += ns.Misses
		s.Invalidations += ns.Invalidations
		s.Bypassing += ns.Bypassing
	}
	return s
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// The counters read from each server.
const (
	counterCommands = "total_commands_processed"
	counterReads    = "total_reads_processed"
	counterClients  = "connected_clients"
	counterCPU      = "cpu" // used_cpu_user + used_cpu_sys, seconds
	counterTracked  = "tracking_total_items"
)

// probe reads the servers' counters, each over one connection of its own
// that it keeps (counted, with its INFO commands, in every reading alike).
type probe struct {
	servers []FleetServer
	clients []*redis.Client
}

func newProbe(servers []FleetServer) *probe {
	p := &probe{servers: servers}
	for _, s := range servers {
		p.clients = append(p.clients, redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 1, MaxIdleConns: 1, ConnMaxIdleTime: -1}))
	}
	return p
}

func (p *probe) close() {
	for _, c := range p.clients {
		c.Close()
	}
}

// reading is the servers' counters at one moment.
type reading struct {
	at     time.Time
	roles  []Role
	values []map[string]float64
}

func (p *probe) read(ctx context.Context) (reading, error) {
	r := reading{at: time.Now()}
	for i, c := range p.clients {
		text, err := c.Info(ctx, "stats", "clients", "cpu").Result()
		if err != nil {
			return r, fmt.Errorf("INFO %s: %w", p.servers[i].Addr, err)
		}
		v := infoNumbers(text)
		v[counterCPU] = v["used_cpu_user"] + v["used_cpu_sys"]
		r.roles = append(r.roles, p.servers[i].Role)
		r.values = append(r.values, v)
	}
	return r, nil
}

// infoNumbers returns the numeric fields of an INFO reply.
func infoNumbers(text string) map[string]float64 {
	v := map[string]float64{}
	for line := range strings.Lines(text) {
		k, val, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		if x, err := strconv.ParseFloat(val, 64); err == nil {
			v[k] = x
		}
	}
	return v
}

// sum returns the growth of counter since before, summed over the servers
// of role, less the probe's own INFO command.
func (r reading) sum(before reading, role Role, counter string) float64 {
	total := 0.0
	for i, ro := range r.roles {
		if ro == role {
			total += r.values[i][counter] - before.values[i][counter]
			if counter == counterCommands || counter == counterReads {
				total-- // the probe's INFO
			}
		}
	}
	return total
}

// perServer is sum divided by the number of servers of role.
func (r reading) perServer(before reading, role Role, counter string) float64 {
	if _, n := r.over(role, counter); n > 0 {
		return r.sum(before, role, counter) / float64(n)
	}
	return 0
}

// total returns counter's value summed over the servers of role.
func (r reading) total(role Role, counter string) float64 {
	total, _ := r.over(role, counter)
	return total
}

// mean returns counter's mean over the servers of role.
func (r reading) mean(role Role, counter string) float64 {
	total, n := r.over(role, counter)
	if n == 0 {
		return 0
	}
	return total / float64(n)
}

// over returns counter's sum over the servers of role, and their number.
func (r reading) over(role Role, counter string) (total float64, n int) {
	for i, ro := range r.roles {
		if ro == role {
			total += r.values[i][counter]
			n++
		}
	}
	return total, n
}

// ProxyName names the balancing of a fleet run.
func ProxyName(sticky bool) string {
	if sticky {
		return "sticky"
	}
	return "round-robin"
}

// Setup names how a fleet run's nodes were reached and built: its
// balancer, and "no near cache" where the nodes had none.
func (x FleetResult) Setup() string {
	if !x.NearCache {
		return ProxyName(x.Sticky) + ", no near cache"
	}
	return ProxyName(x.Sticky)
}

// FleetReport is the results of a fleet simulation and how it was run.
type FleetReport struct {
	Machine                     Machine
	Fleet                       Fleet
	Shards, Replicas, Sentinels int
	DownAfter                   time.Duration // the sentinels' down-after-milliseconds
	Results                     []FleetResult
}

// Markdown writes the report as one Markdown table.
func (r *FleetReport) Markdown(w io.Writer) error {
	f := r.Fleet
	sentinels := fmt.Sprintf("%d sentinel(s)", r.Sentinels)
	if r.Sentinels > 0 {
		sentinels += fmt.Sprintf(" (down-after %v)", r.DownAfter)
	}
	warmup := ""
	if f.Warmup > 0 {
		warmup = fmt.Sprintf(" after %v of the same traffic unmeasured", f.Warmup)
	}
	writes := fmt.Sprintf("%.0f%% writes", 100*f.Writes)
	if m := f.NearCache.MinReuse; m != 0 {
		writes += fmt.Sprintf(", near caches' MinReuse %g", m)
	}
	fmt.Fprintf(w, "%d shards (primary + %d replica(s) each), %s; %d sessions, %d requests/s over the whole fleet, %s, %v of traffic%s and %v idle per run; Go %s, %d CPUs, load average %s before the run, %s.\n\n",
		r.Shards, r.Replicas, sentinels, f.Sessions, f.Rate, writes, f.Duration, warmup, f.Idle,
		strings.TrimPrefix(r.Machine.GoVersion, "go"), r.Machine.CPUs, r.Machine.LoadAverage, r.Machine.Time.Format(time.DateOnly))
	if len(r.Results) > 0 {
		own := r.Results[0].ServersIdle
		fmt.Fprintf(w, "With no node running, each primary counts %.2f commands/s, each replica %.2f, each sentinel %.2f (replication, the sentinels' monitoring); the idle columns are what the nodes add to that.\n\n",
			own[Primary], own[Replica], own[Sentinel])
	}
	fmt.Fprintln(w, "| web nodes | balancer | near cache | requests | connections per primary | per replica | per sentinel | commands per request (primaries) | round trips per request | primary CPU ms per 1,000 requests | pushes per write | near-cache hits | nodes caching a sample only | nodes tracked per session | idle commands/s per node per primary | per replica | per sentinel | errors |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, x := range r.Results {
		cache, hits, sample := "yes", fmt.Sprintf("%.1f%%", 100*x.HitRate), fmt.Sprintf("%.0f%%", 100*x.SampleOnly)
		if !x.NearCache {
			cache, hits, sample = "no", "–", "–"
		}
		fmt.Fprintf(w, "| %d | %s | %s | %d | %.1f | %.1f | %.1f | %.2f | %.2f | %.1f | %.2f | %s | %s | %.2f | %.2f | %.2f | %.2f | %d |\n",
			x.Nodes, ProxyName(x.Sticky), cache, x.Requests, x.ConnsPerPrimary, x.ConnsPerReplica, x.ConnsPerSentinel,
			x.CommandsPerRequest, x.RoundTripsPerRequest, x.PrimaryCPUPer1000, x.PushesPerWrite, hits, sample, x.TrackedPerSession, x.IdlePerPrimary, x.IdlePerReplica, x.IdlePerSentinel, x.Errors)
	}
	return nil
}
