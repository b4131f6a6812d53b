package metrics

import (
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

// Options configure a Collector. The zero value works.
type Options struct {
	// Namespace prefixes every metric name. Default "shardsession".
	Namespace string

	// ConstLabels are added to every series, e.g. {"web_node": "web-1"}
	// when several Collectors share one registry.
	ConstLabels prometheus.Labels

	// Buckets are the latency histogram's upper bounds, in seconds.
	// Default: 100 µs to 2.5 s, roughly ×2.5 apart.
	Buckets []float64
}

func (o *Options) init() {
	if o.Namespace == "" {
		o.Namespace = "shardsession"
	}
	if o.Buckets == nil {
		o.Buckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	}
}

// Collector counts commands as a shard.Observer and reports them, with the
// Stats of the clusters it watches, as a prometheus.Collector. It is safe
// for concurrent use.
type Collector struct {
	opt                      Options
	requests                 *prometheus.CounterVec
	errs                     *prometheus.CounterVec
	latency                  *prometheus.HistogramVec
	clusterStats, shardStats []statDesc
	topology, nearStats      []statDesc
	reads                    []statDesc // replica reads and stale retries
	pool                     poolDescs
	caps                     capabilityDescs

	watched atomic.Pointer[cluster.Cluster]
	near    atomic.Pointer[NearCache]
}

// New returns a Collector; register it with a prometheus.Registerer.
func New(opt Options) *Collector {
	opt.init()
	labels := []string{"shard", "node", "role", "command"}
	return &Collector{
		pool:         newPoolDescs(opt),
		caps:         newCapabilityDescs(opt),
		clusterStats: statDescs(opt, "cluster", reflect.TypeFor[*cluster.Cluster](), "Stats", nil),
		topology:     statDescs(opt, "cluster", reflect.TypeFor[*cluster.Cluster](), "Topology", nil),
		reads:        statDescs(opt, "cluster", reflect.TypeFor[*cluster.Cluster](), "ReadStats", nil),
		shardStats:   statDescs(opt, "shard", reflect.TypeFor[*shard.Shard](), "Stats", []string{"shard"}),
		nearStats:    statDescs(opt, "near_cache", reflect.TypeFor[*cluster.NearCache](), "Stats", nil),
		opt:          opt,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: opt.Namespace, Name: "redis_commands_total", ConstLabels: opt.ConstLabels,
			Help: "Redis commands (or pipelines) sent, per shard, node, role and command.",
		}, labels),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: opt.Namespace, Name: "redis_errors_total", ConstLabels: opt.ConstLabels,
			Help: "Redis commands that failed; kind is unavailable (network, timeout, node cannot serve) or other.",
		}, append(labels, "kind")),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: opt.Namespace, Name: "redis_command_duration_seconds", ConstLabels: opt.ConstLabels,
			Help: "Latency of Redis commands as the client sees it, per shard, node, role and command.", Buckets: opt.Buckets,
		}, labels),
	}
}

// ObserveCommand counts c; it implements shard.Observer.
func (m *Collector) ObserveCommand(c shard.Command) {
	m.requests.WithLabelValues(c.Shard, c.Node, c.Role, c.Name).Inc()
	m.latency.WithLabelValues(c.Shard, c.Node, c.Role, c.Name).Observe(c.Duration.Seconds())
	if c.Err != nil {
		kind := "other"
		if shard.IsUnavailable(c.Err) {
			kind = "unavailable"
		}
		m.errs.WithLabelValues(c.Shard, c.Node, c.Role, c.Name, kind).Inc()
	}
}

// Watch makes the Collector report c's cluster and shard Stats (one
// cluster per Collector; a later call replaces an earlier one). The shards
// are read at every scrape, so shards added later are included.
func (m *Collector) Watch(c *cluster.Cluster) { m.watched.Store(c) }

// NearCache is a near cache whose Stats a Collector reports:
// *cluster.NearCache or *rediscluster.NearCache.
type NearCache interface {
	Stats() cluster.NearCacheStats
}

// WatchNearCache makes the Collector report nc's Stats (hits, misses,
// invalidations, flushes, size) and, for a *cluster.NearCache, Watch the
// Cluster behind it.
func (m *Collector) WatchNearCache(nc NearCache) {
	m.near.Store(&nc)
	if c, ok := nc.(interface{ Cluster() *cluster.Cluster }); ok {
		m.Watch(c.Cluster())
	}
}

// Describe sends the descriptions of every series the Collector reports.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.errs.Describe(ch)
	m.latency.Describe(ch)
	m.pool.describe(ch)
	m.caps.describe(ch)
	for _, d := range slices.Concat(m.clusterStats, m.topology, m.reads, m.shardStats, m.nearStats) {
		ch <- d.desc
	}
}

// Collect sends the command metrics and the watched clusters' Stats.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.errs.Collect(ch)
	m.latency.Collect(ch)
	if nc := m.near.Load(); nc != nil {
		collectStats(ch, m.nearStats, *nc)
	}
	c := m.watched.Load()
	if c == nil {
		return
	}
	collectStats(ch, m.clusterStats, c)
	collectStats(ch, m.topology, c)
	collectStats(ch, m.reads, c)
	for _, sh := range c.Shards() {
		m.pool.collect(ch, sh)
		m.caps.collect(ch, sh)
		collectStats(ch, m.shardStats, sh, sh.Name())
	}
}

// statDesc is one exported field of a Stats struct and its series.
type statDesc struct {
	method string // the method that returns the struct
	field  int
	typ    prometheus.ValueType
	desc   *prometheus.Desc
}

// statDescs describes one series per exported integer field of the struct
// that t's method returns (t.Stats(), t.Topology()), if t has it: a gauge
// for a field tagged `metric:"gauge"` (a level, such as a cache's size), for
// a state type with a String method (failover.State), and for every field of
// Topology; a counter for the others. Other fields are skipped. Finding the
// structs by reflection keeps this package free of the features that fill
// them: a new field is a new series.
func statDescs(opt Options, subsystem string, t reflect.Type, method string, labels []string) []statDesc {
	m, ok := t.MethodByName(method)
	if !ok || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Struct {
		return nil
	}
	st := m.Type.Out(0)
	prefix := ""
	if method != "Stats" {
		prefix = snake(method) + "_"
	}
	var out []statDesc
	for i := range st.NumField() {
		f := st.Field(i)
		d := statDesc{field: i, method: method}
		name := prefix + snake(f.Name)
		_, isState := f.Type.MethodByName("String")
		switch {
		case !f.IsExported() || !isInteger(f.Type.Kind()):
			continue
		case method == "Topology" || f.Tag.Get("metric") == "gauge":
			d.typ = prometheus.GaugeValue
		case isState:
			d.typ, name = prometheus.GaugeValue, name+"_state"
		default:
			d.typ, name = prometheus.CounterValue, name+"_total"
		}
		d.desc = prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, subsystem, name),
			"shardsession: "+st.String()+"."+f.Name+" (see its doc comment).", labels, opt.ConstLabels)
		out = append(out, d)
	}
	return out
}

func isInteger(k reflect.Kind) bool {
	return k >= reflect.Int && k <= reflect.Uint64
}

// collectStats sends the series of the struct that owner's method returns.
func collectStats(ch chan<- prometheus.Metric, descs []statDesc, owner any, labelValues ...string) {
	if len(descs) == 0 {
		return
	}
	v := reflect.ValueOf(owner).MethodByName(descs[0].method).Call(nil)[0]
	for _, d := range descs {
		f := v.Field(d.field)
		var x float64
		if f.CanInt() {
			x = float64(f.Int())
		} else {
			x = float64(f.Uint())
		}
		ch <- prometheus.MustNewConstMetric(d.desc, d.typ, x, labelValues...)
	}
}

// snake turns "DegradedReads" into "degraded_reads".
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) && i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

var _ shard.Observer = (*Collector)(nil)
