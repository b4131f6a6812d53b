package metrics

import (
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type state int

func (state) String() string { return "" }

// fakeStats is what a feature's Stats struct looks like.
type fakeStats struct {
	NearCacheHits int64
	StaleRetries  uint32
	Breaker       state
	LastSwitch    string // skipped: not an integer
	hidden        int64  // skipped: unexported
	Entries       int    `metric:"gauge"`
}

type owner struct{}

func (owner) Stats() fakeStats {
	return fakeStats{NearCacheHits: 7, StaleRetries: 2, Breaker: 1, hidden: 9, Entries: 4}
}

type statsCollector struct{ descs []statDesc }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}
func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	collectStats(ch, c.descs, owner{}, "s0")
}

// Every integer field of a Stats struct becomes a series, without a line of
// code per field.
func TestStatsByReflection(t *testing.T) {
	opt := Options{}
	opt.init()
	c := statsCollector{statDescs(opt, "shard", reflect.TypeFor[owner](), "Stats", []string{"shard"})}
	want := `
# HELP shardsession_shard_breaker_state shardsession: metrics.fakeStats.Breaker (see its doc comment).
# TYPE shardsession_shard_breaker_state gauge
shardsession_shard_breaker_state{shard="s0"} 1
# HELP shardsession_shard_entries shardsession: metrics.fakeStats.Entries (see its doc comment).
# TYPE shardsession_shard_entries gauge
shardsession_shard_entries{shard="s0"} 4
# HELP shardsession_shard_near_cache_hits_total shardsession: metrics.fakeStats.NearCacheHits (see its doc comment).
# TYPE shardsession_shard_near_cache_hits_total counter
shardsession_shard_near_cache_hits_total{shard="s0"} 7
# HELP shardsession_shard_stale_retries_total shardsession: metrics.fakeStats.StaleRetries (see its doc comment).
# TYPE shardsession_shard_stale_retries_total counter
shardsession_shard_stale_retries_total{shard="s0"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	if d := statDescs(opt, "x", reflect.TypeFor[int](), "Stats", nil); d != nil {
		t.Fatalf("a type without Stats gave %v", d)
	}
}
