package metrics

import (
	"reflect"
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
	pool                     poolDescs

	watched atomic.Pointer[cluster.Cluster]
}

// New returns a Collector; register it with a prometheus.Registerer.
func New(opt Options) *Collector {
	opt.init()
	labels := []string{"shard", "node", "role", "command"}
	return &Collector{
		pool:         newPoolDescs(opt),
		clusterStats: statDescs(opt, "cluster", reflect.TypeFor[*cluster.Cluster](), nil),
		shardStats:   statDescs(opt, "shard", reflect.TypeFor[*shard.Shard](), []string{"shard"}),
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

// Describe sends the descriptions of every series the Collector reports.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.errs.Describe(ch)
	m.latency.Describe(ch)
	m.pool.describe(ch)
	for _, d := range append(m.clusterStats, m.shardStats...) {
		ch <- d.desc
	}
}

// Collect sends the command metrics and the watched clusters' Stats.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.errs.Collect(ch)
	m.latency.Collect(ch)
	c := m.watched.Load()
	if c == nil {
		return
	}
	collectStats(ch, m.clusterStats, c)
	for _, sh := range c.Shards() {
		m.pool.collect(ch, sh)
		collectStats(ch, m.shardStats, sh, sh.Name())
	}
}

// statDesc is one exported field of a Stats struct and its series.
type statDesc struct {
	field int
	typ   prometheus.ValueType
	desc  *prometheus.Desc
}

// statDescs describes one series per exported field of the struct that
// t's Stats method returns, if t has one: integer fields whose type has a
// String method (a state such as failover.State) as gauges, other integer
// fields as counters; other fields are skipped. Finding Stats by
// reflection keeps this package free of the features that fill them.
func statDescs(opt Options, subsystem string, t reflect.Type, labels []string) []statDesc {
	m, ok := t.MethodByName("Stats")
	if !ok || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Struct {
		return nil
	}
	st := m.Type.Out(0)
	var out []statDesc
	for i := range st.NumField() {
		f := st.Field(i)
		d := statDesc{field: i}
		name := snake(f.Name)
		_, isState := f.Type.MethodByName("String")
		switch {
		case !f.IsExported() || !isInteger(f.Type.Kind()):
			continue
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

// collectStats sends the series of owner.Stats().
func collectStats(ch chan<- prometheus.Metric, descs []statDesc, owner any, labelValues ...string) {
	if len(descs) == 0 {
		return
	}
	v := reflect.ValueOf(owner).MethodByName("Stats").Call(nil)[0]
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
