package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/shard"
)

// capabilityDescs describe what each shard's primary is and allows
// (shard.Capabilities), so that a dashboard shows which features are off
// where, and why, without reading logs.
type capabilityDescs struct {
	server, allowed *prometheus.Desc
}

func newCapabilityDescs(opt Options) capabilityDescs {
	return capabilityDescs{
		server: prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, "shard", "server_info"),
			"1 for each probed shard primary, with its server, version and how the library authenticates.",
			[]string{"shard", "server", "version", "auth"}, opt.ConstLabels),
		allowed: prometheus.NewDesc(prometheus.BuildFQName(opt.Namespace, "shard", "capability"),
			"1 if the shard's primary allows what the feature needs, 0 if it refused it (see shard.Capabilities): "+
				"scripts (EVAL), config (CONFIG), migrate (MIGRATE), client (CLIENT), tracking (CLIENT TRACKING), expired_events (notify-keyspace-events holds Ex; absent when CONFIG is refused).",
			[]string{"shard", "capability"}, opt.ConstLabels),
	}
}

func (d capabilityDescs) describe(ch chan<- *prometheus.Desc) {
	ch <- d.server
	ch <- d.allowed
}

// collect sends sh's series once it has been probed.
func (d capabilityDescs) collect(ch chan<- prometheus.Metric, sh *shard.Shard) {
	cp := sh.Capabilities()
	if cp.Probed.IsZero() {
		return
	}
	ch <- prometheus.MustNewConstMetric(d.server, prometheus.GaugeValue, 1, sh.Name(), cp.Server, cp.Version, cp.Auth)
	flag := func(name string, on bool) {
		v := 0.0
		if on {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(d.allowed, prometheus.GaugeValue, v, sh.Name(), name)
	}
	flag("scripts", cp.Scripts)
	flag("config", cp.Config)
	flag("migrate", cp.Migrate)
	flag("client", cp.Client)
	flag("tracking", cp.Tracking)
	if on, known := cp.ExpiredEvents(); known {
		flag("expired_events", on)
	}
}
