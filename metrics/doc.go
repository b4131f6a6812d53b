// Package metrics exports shardsession's numbers to Prometheus
// (github.com/prometheus/client_golang). It is opt-in and separate so that
// the core does not depend on Prometheus.
//
// A Collector is two things at once:
//
//   - a shard.Observer: given as cluster.Options.Observer, it counts every
//     Redis command per shard, node, role and command, its errors, and its
//     latency in a histogram;
//
//   - a prometheus.Collector: at each scrape it reads the counters of the
//     cluster it watches (Watch): every integer field of the struct that
//     (*shard.Shard).Stats returns becomes a series per shard, and of
//     (*cluster.Cluster).Stats a series per cluster — a counter, or a gauge
//     for a state type with a String method (a circuit breaker's state).
//     A feature that adds a field to those Stats structs (stale replica
//     retries, failovers, migration progress...) is exported without a
//     change here; tag a field `metric:"gauge"` when it is a level rather
//     than a count. The cluster's Topology (epoch, phase of a topology
//     change) is exported as gauges, and WatchNearCache adds a near cache's
//     hits, misses, invalidations and size.
//
//     m := metrics.New(metrics.Options{})
//     c, err := cluster.New(cluster.Options{Shards: shards, Observer: m})
//     m.Watch(c)
//     prometheus.MustRegister(m)
//     http.Handle("/metrics", promhttp.Handler())
package metrics
