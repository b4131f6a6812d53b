package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/metrics"
	"github.com/shardsession/shardsession/shard"
)

// /metrics says which features a shard's server refuses: here one whose
// CONFIG and MIGRATE are renamed away, as on a managed service.
func TestCapabilitySeries(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{Args: []string{"--rename-command", "CONFIG", "", "--rename-command", "MIGRATE", ""}})
	m := metrics.New(metrics.Options{})
	c, err := cluster.New(cluster.Options{Shards: []shard.Options{{Name: "m", Addr: srv.Addr()}}, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m.Watch(c)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if c.Shards()[0].Capabilities().Probed.IsZero() {
			return errors.New("not probed yet")
		}
		return nil
	})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				if l.GetName() == "capability" || l.GetName() == "server" || l.GetName() == "auth" {
					key += " " + l.GetValue()
				}
			}
			got[key] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"shardsession_shard_capability scripts":     1,
		"shardsession_shard_capability config":      0,
		"shardsession_shard_capability migrate":     0,
		"shardsession_shard_capability client":      1,
		"shardsession_shard_capability tracking":    1,
		"shardsession_shard_server_info none redis": 1,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	if _, ok := got["shardsession_shard_capability expired_events"]; ok {
		t.Error("expired_events reported although CONFIG was refused (unknown)")
	}
	if t.Failed() {
		t.Log(fmt.Sprint(got))
	}
}
