package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

// poolDescs describe each shard node's connection pool (go-redis
// PoolStats) and the shard itself, so that every shard has series even
// before it serves a command.
type poolDescs struct {
	info, conns, timeouts *prometheus.Desc
}

func newPoolDescs(opt Options) poolDescs {
	node := []string{"shard", "node", "role"}
	return poolDescs{
		info: prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, "shard", "info"),
			"1 for each shard of the watched cluster, with its primary's address.", []string{"shard", "primary"}, opt.ConstLabels),
		conns: prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, "pool", "connections"),
			"Connections in a node's pool, by state (total, idle).", append(node, "state"), opt.ConstLabels),
		timeouts: prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, "pool", "timeouts_total"),
			"Times a command waited for a pooled connection in vain.", node, opt.ConstLabels),
	}
}

func (d poolDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- d.info
	ch <- d.conns
	ch <- d.timeouts
}

// collect sends the info series of sh and the pool series of its nodes.
func (d poolDescs) collect(ch chan<- prometheus.Metric, sh *shard.Shard) {
	ch <- prometheus.MustNewConstMetric(d.info, prometheus.GaugeValue, 1, sh.Name(), sh.Addr(sh.Primary()))
	d.node(ch, sh.Name(), "primary", sh.Primary())
	for _, r := range sh.Replicas() {
		d.node(ch, sh.Name(), "replica", r)
	}
}

func (d poolDescs) node(ch chan<- prometheus.Metric, shardName, role string, c *redis.Client) {
	st, addr := c.PoolStats(), c.Options().Addr
	ch <- prometheus.MustNewConstMetric(d.conns, prometheus.GaugeValue, float64(st.TotalConns), shardName, addr, role, "total")
	ch <- prometheus.MustNewConstMetric(d.conns, prometheus.GaugeValue, float64(st.IdleConns), shardName, addr, role, "idle")
	ch <- prometheus.MustNewConstMetric(d.timeouts, prometheus.CounterValue, float64(st.Timeouts), shardName, addr, role)
}
