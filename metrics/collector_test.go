package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/metrics"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

func TestPerShardSeries(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3})
	m := metrics.New(metrics.Options{ConstLabels: prometheus.Labels{"web_node": "web-1"}})
	c, err := cluster.New(cluster.Options{Shards: clustertest.ShardOptions(top), Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m.WatchNearCache(nc) // watches c too
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)

	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	shards := map[string]bool{}
	for i := 0; len(shards) < 3 && i < 100; i++ {
		id := "id" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if _, err := c.Save(ctx, id, store.Write{Mode: store.Create, Set: map[string][]byte{"k": []byte("v")}, ExpireAt: exp}); err != nil {
			t.Fatal(err)
		}
		shards[c.Locate(id)] = true
	}
	// Each shard probes its server's capabilities in the background when
	// it is made; a probe cut short by the kill below would count errors of
	// its own. Let the probes finish first.
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		for _, sh := range c.Shards() {
			if sh.Capabilities().Probed.IsZero() {
				return fmt.Errorf("shard %s not probed yet", sh.Name())
			}
		}
		return nil
	})
	if err := top.Shards[1].Primary.Kill(); err != nil {
		t.Fatal(err)
	}
	c.Shards()[1].Ping(ctx) // fails: counted as an error of kind unavailable

	// Connection set-up (HELLO, CLIENT SETINFO that Redis 7.0 refuses) is
	// not an error: only the dead shard's are.
	if n := testutil.CollectAndCount(m, "shardsession_redis_errors_total"); n != 1 {
		families, _ := reg.Gather()
		for _, f := range families {
			if f.GetName() == "shardsession_redis_errors_total" {
				t.Errorf("%d error series, want 1 (the dead shard's ping): %v", n, f.GetMetric())
			}
		}
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metric lint: %v %v", problems, err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			text.WriteString(f.GetName() + " " + labels["shard"] + " " + labels["kind"] + " " + labels["web_node"] + "\n")
		}
	}
	out := text.String()
	for _, want := range []string{
		"shardsession_redis_commands_total s0", "shardsession_redis_commands_total s1", "shardsession_redis_commands_total s2",
		"shardsession_redis_command_duration_seconds s2",
		"shardsession_redis_errors_total s1 unavailable web-1",
		"shardsession_shard_info s0", "shardsession_shard_info s1", "shardsession_shard_info s2",
		"shardsession_pool_connections s1",
		"shardsession_near_cache_hits_total", "shardsession_near_cache_entries",
		"shardsession_cluster_topology_epoch", "shardsession_cluster_topology_phase",
		"shardsession_cluster_read_stats_stale_retries_total", "shardsession_cluster_read_stats_replica_reads_total",
		"shardsession_cluster_migrated_keys_total", "shardsession_cluster_migration_scanned_total", "shardsession_cluster_migration_remaining",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no series %q in\n%s", want, out)
		}
	}
}

func TestLogErrorsAndObservers(t *testing.T) {
	var n int
	count := shard.ObserverFunc(func(shard.Command) { n++ })
	o := shard.Observers(count, nil, count)
	o.ObserveCommand(shard.Command{Shard: "s0"})
	if n != 2 {
		t.Fatalf("Observers told %d observers, want 2", n)
	}
}

// The cost the Collector adds to every Redis command.
func BenchmarkObserveCommand(b *testing.B) {
	m := metrics.New(metrics.Options{})
	c := shard.Command{Shard: "s0", Node: "127.0.0.1:6379", Role: "primary", Name: "hgetall", Duration: 300 * time.Microsecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveCommand(c)
		}
	})
}

// What the Collector costs a session load, side by side on the same shards:
// one Cluster without an Observer, one with the Collector.
func BenchmarkLoad(b *testing.B) {
	top := redistest.NewTopology(b, redistest.TopologyOptions{Shards: 3})
	ctx := context.Background()
	for _, observed := range []bool{false, true} {
		opt := cluster.Options{Shards: clustertest.ShardOptions(top)}
		if observed {
			opt.Observer = metrics.New(metrics.Options{})
		}
		c, err := cluster.New(opt)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Save(ctx, "bench", store.Write{Mode: store.Create, Set: map[string][]byte{"k": []byte("v")}, ExpireAt: time.Now().Add(time.Hour)}); err != nil && !errors.Is(err, store.ErrExists) {
			b.Fatal(err)
		}
		name := map[bool]string{false: "observer=off", true: "observer=on"}[observed]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, _, err := c.Load(ctx, "bench", store.LoadOptions{Primary: true}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
