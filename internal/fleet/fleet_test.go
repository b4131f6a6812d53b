package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/internal/clustertest"
	"github.com/shardsession/shardsession/internal/fleet"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/internal/webtest"
	"github.com/shardsession/shardsession/replica"
)

func TestSmoke(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1})
	reg := prometheus.NewRegistry()
	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top)}, Metrics: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	if err := fleet.Smoke(context.Background(), f.URL, len(f.Nodes), false, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())

	// The demo's /metrics has series for every shard, from every node.
	b := webtest.New(t)
	code, body := b.Get(f.URL + "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, s := range top.Shards {
		for _, node := range []string{"web-1", "web-3"} {
			want := `shardsession_shard_info{primary="` + s.Primary.Addr() + `",shard="` + s.Name + `",web_node="` + node + `"} 1`
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	if !strings.Contains(body, `shardsession_redis_command_duration_seconds_bucket{command="evalsha"`) {
		t.Errorf("/metrics has no latency histogram of the session saves:\n%s", body)
	}
}

// With replicas and ReplicaPreferred, the demo reads sessions from replicas,
// says so on / and in /whoami, and every read right after the login, on
// whichever node, already knows the user (read-your-writes).
func TestReadsFromReplicas(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 2})
	f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{
		Shards:  clustertest.ShardOptions(top),
		Replica: replica.Options{Policy: replica.ReplicaPreferred},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := webtest.New(t)
	if code, _ := b.Post(f.URL+"/login", url.Values{"user": {"ada"}}); code != http.StatusSeeOther {
		t.Fatalf("login: %d", code)
	}
	whoami := func() fleet.WhoAmI {
		code, body := b.Get(f.URL + "/whoami")
		var w fleet.WhoAmI
		if err := json.Unmarshal([]byte(body), &w); err != nil || code != http.StatusOK {
			t.Fatalf("whoami: %d %q %v", code, body, err)
		}
		if w.User != "ada" || (w.Read != "primary" && w.Read != "replica") || w.ReadNode == "" {
			t.Fatalf("whoami right after login: %+v", w)
		}
		return w
	}
	for range len(f.Nodes) {
		whoami()
	}
	// Replicas join the rotation once their health checks pass.
	redistest.Eventually(t, 15*time.Second, func(context.Context) error {
		if w := whoami(); w.Read != "replica" {
			return fmt.Errorf("read from the %s", w.Read)
		}
		return nil
	})
	if _, page := b.Get(f.URL + "/"); !strings.Contains(page, `<b id="read">`) {
		t.Fatalf("/ does not say which node served the read:\n%s", page)
	}
}

// Killing the primary of a logged-in user's shard: every read meanwhile
// either knows the user or fails, and most are served by the replica
// (degraded mode, even with reads pinned to primaries); logins work again
// once Sentinel has promoted the replica. A read can fail in the instant
// of the promotion itself: the replica is a primary already, so it is no
// longer offered as a replica, while the clients still point at the dead
// primary until +switch-master reaches them.
func TestFailover(t *testing.T) {
	for _, policy := range []replica.Policy{replica.PrimaryOnly, replica.ReplicaPreferred} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 3, Replicas: 1, Sentinels: 3})
			f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{
				Shards:  clustertest.SentinelShardOptions(top),
				Replica: replica.Options{Policy: policy},
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ctx := context.Background()
			kill := func(shard string) (string, error) {
				s, err := top.CurrentPrimary(ctx, shard)
				if err != nil {
					return "", err
				}
				return s.Addr(), s.Kill()
			}
			var out strings.Builder
			r, err := fleet.SmokeFailover(ctx, f.URL, len(f.Nodes), kill, 30*time.Second, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			t.Logf("%+v", *r)
			if r.FailedReads > r.Reads/2 {
				t.Errorf("%d of %d reads failed while the primary was away: degraded reads do not work\n%s", r.FailedReads, r.Reads, out.String())
			}
		})
	}
}

// Behind the sticky proxy a user's requests all reach one node, whose near
// cache then serves them; behind the round-robin proxy they go round the
// nodes.
func TestStickyProxy(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2})
	for _, sticky := range []bool{false, true} {
		t.Run(fmt.Sprintf("sticky=%v", sticky), func(t *testing.T) {
			f, err := fleet.Start(fleet.Options{Cluster: cluster.Options{Shards: clustertest.ShardOptions(top)}, NearCache: true, Sticky: sticky})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := webtest.New(t)
			if code, _ := b.Post(f.URL+"/login", url.Values{"user": {"ada"}}); code != http.StatusOK && code != http.StatusSeeOther {
				t.Fatalf("login: %d", code)
			}
			nodes := map[string]bool{}
			for range 6 {
				var w fleet.WhoAmI
				code, body := b.Get(f.URL + "/whoami")
				if err := json.Unmarshal([]byte(body), &w); code != 200 || err != nil || w.User != "ada" {
					t.Fatalf("whoami: %d %s", code, body)
				}
				nodes[w.Node] = true
			}
			if want := map[bool]int{false: 3, true: 1}[sticky]; len(nodes) != want {
				t.Errorf("a user's requests reached %d nodes (%v), want %d", len(nodes), nodes, want)
			}
		})
	}
}
