package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
)

// runChecked runs check with args and returns its exit code and output.
func runChecked(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := check(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func parseResult(t *testing.T, out string) map[string]*shardReport {
	t.Helper()
	var res checkResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	m := map[string]*shardReport{}
	for _, r := range res.Shards {
		m[r.Name] = r
	}
	return m
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// The acceptance test: a shard that evicts live sessions and has no
// persistence is flagged; a shard with AOF and a replica is not.
func TestCheckFlagsSettingsThatLoseSessions(t *testing.T) {
	good := redistest.NewServer(t, redistest.Options{Name: "good", Persistence: true, Args: []string{"--maxmemory-policy", "noeviction"}})
	redistest.NewServer(t, redistest.Options{Name: "good-replica", ReplicaOf: good.Addr(), Persistence: true})
	// check rightly warns about a replica that is still syncing: wait
	// until the primary lists it online.
	if err := good.WaitReplicasOnline(t.Context(), 1); err != nil {
		t.Fatal(err)
	}
	bad := redistest.NewServer(t, redistest.Options{Name: "bad", Args: []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}})
	shards := "good=" + good.Addr() + ",bad=" + bad.Addr()

	code, out := runChecked(t, "--shards", shards, "--json")
	if code != 0 {
		t.Fatalf("exit %d with warnings only, want 0\n%s", code, out)
	}
	res := parseResult(t, out)
	if g := res["good"]; g == nil || len(g.Warnings)+len(g.Errors) != 0 || len(g.Replicas) != 1 || g.AppendOnly != "yes" {
		t.Fatalf("good shard: %+v", g)
	}
	b := res["bad"]
	for _, want := range []string{"maxmemory-policy allkeys-lru", "no persistence", "no replicas"} {
		if b == nil || !hasLine(b.Warnings, want) {
			t.Errorf("bad shard not warned about %q: %+v", want, b)
		}
	}
	if b != nil && (b.MaxMemory != 64<<20 || b.Role != "master") {
		t.Errorf("bad shard: maxmemory %d role %q", b.MaxMemory, b.Role)
	}

	code, out = runChecked(t, "--shards", shards, "--strict")
	if code != 1 || !strings.Contains(out, "WARNING bad: maxmemory-policy allkeys-lru") || !strings.Contains(out, "aof everysec") {
		t.Fatalf("--strict table: exit %d, want 1\n%s", code, out)
	}
	t.Log("\n" + out)
}

// check reports what a fleet's nodes hold on a primary: its clients
// against maxclients (a warning near the bound) and its tracking table.
func TestCheckReportsClientsAndTracking(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{Name: "p", Persistence: true, Args: []string{"--maxclients", "10"}})
	ctx := t.Context()
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer admin.Close()
	for _, k := range []string{"s:a", "s:b"} {
		if err := admin.HSet(ctx, k, "v", "1").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for range 6 { // six near caches that read both sessions
		conn := srv.NewTracker(t)
		for _, k := range []string{"s:a", "s:b"} {
			if err := conn.HGetAll(ctx, k).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}

	code, out := runChecked(t, "--shards", "p="+srv.Addr(), "--json")
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s", code, out)
	}
	r := parseResult(t, out)["p"]
	// Six nodes, the admin, check's own connection: 8 of 10.
	if r == nil || r.MaxClients != 10 || r.Clients < 8 || r.TrackedKeys != 2 || r.TrackedItems != 12 {
		t.Fatalf("report: %+v", r)
	}
	if !hasLine(r.Warnings, "clients of maxclients 10") {
		t.Errorf("no warning about maxclients: %q", r.Warnings)
	}
	_, out = runChecked(t, "--shards", "p="+srv.Addr())
	if !strings.Contains(out, "/10 ") || !strings.Contains(out, "2 keys, 12 items") {
		t.Errorf("table:\n%s", out)
	}
}

func TestCheckErrors(t *testing.T) {
	primary := redistest.NewServer(t, redistest.Options{Name: "p"})
	replica := redistest.NewServer(t, redistest.Options{Name: "r", ReplicaOf: primary.Addr()})
	down := redistest.NewServer(t, redistest.Options{Name: "down"})
	if err := down.Kill(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		code  int
		shard string // the shard with an error, if any
		want  string
	}{
		{"unreachable", []string{"--shards", "s0=" + down.Addr()}, 1, "s0", "unreachable"},
		{"replica named as primary", []string{"--shards", "s0=" + replica.Addr()}, 1, "s0", "not a primary"},
		{"bad shards flag", []string{"--shards", "nonsense"}, 2, "", "name=host:port"},
		{"no topology", nil, 2, "", "no topology"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envShards, "")
			t.Setenv(envSentinels, "")
			code, out := runChecked(t, append(tt.args, "--json")...)
			if code != tt.code || !strings.Contains(out, tt.want) {
				t.Fatalf("exit %d, want %d and %q in\n%s", code, tt.code, tt.want, out)
			}
			if tt.shard != "" && len(parseResult(t, out)[tt.shard].Errors) == 0 {
				t.Fatalf("no error recorded for %s\n%s", tt.shard, out)
			}
		})
	}
}

func TestCheckConfigFromEnvAndFile(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	t.Run("env", func(t *testing.T) {
		t.Setenv(envShards, "e0="+srv.Addr())
		if code, out := runChecked(t, "--json"); code != 0 || parseResult(t, out)["e0"] == nil {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
	t.Run("file", func(t *testing.T) {
		t.Setenv(envShards, "")
		path := filepath.Join(t.TempDir(), "shardsession.env")
		os.WriteFile(path, []byte("# topology\n"+envShards+"=\"f0="+srv.Addr()+"\"\n"), 0o600)
		if code, out := runChecked(t, "--config", path, "--json"); code != 0 || parseResult(t, out)["f0"] == nil {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}

// With only Sentinels given, their masters are the shards, and each gets
// the Sentinels' view.
func TestCheckSentinel(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1, Sentinels: 3})
	var addrs []string
	for _, s := range top.Sentinels {
		addrs = append(addrs, s.Addr())
	}
	code, out := runChecked(t, "--sentinel", strings.Join(addrs, ","), "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	res := parseResult(t, out)
	for _, s := range top.Shards {
		r := res[s.Name]
		if r == nil || r.Addr != s.Primary.Addr() || r.Sentinel == nil {
			t.Fatalf("shard %s: %+v", s.Name, r)
		}
		if sv := r.Sentinel; sv.Watching != 3 || sv.Quorum != 2 || !sv.Agree || !strings.HasPrefix(sv.CKQuorum, "OK") || len(r.Replicas) != 1 {
			t.Fatalf("shard %s sentinel view: %+v", s.Name, sv)
		}
	}
	// A shard the Sentinels do not know is warned about.
	extra := redistest.NewServer(t, redistest.Options{})
	_, out = runChecked(t, "--sentinel", strings.Join(addrs, ","), "--shards", "s0="+top.Shards[0].Primary.Addr()+",x="+extra.Addr(), "--json")
	if !hasLine(parseResult(t, out)["x"].Warnings, "not monitored") {
		t.Fatalf("unmonitored shard not warned about\n%s", out)
	}
}

// The check command the demo prints runs as printed.
func TestDemoPrintsAWorkingCheck(t *testing.T) {
	top := redistest.NewTopology(t, redistest.TopologyOptions{Shards: 2, Replicas: 1})
	code, out := runChecked(t, "--shards", shardsFlag(top))
	if code != 0 || strings.Contains(out, "not attached") || strings.Count(out, "1 (lag") != 2 {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// check --redis-cluster: a healthy cluster passes, every master is checked
// with its replica; a cluster missing slots fails, naming the problem.
func TestCheckRedisCluster(t *testing.T) {
	rc := redistest.NewRedisCluster(t, redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	code, out := runChecked(t, "--redis-cluster", rc.Addrs()[0])
	if code != 0 || !strings.Contains(out, "state ok, 16384/16384 slots assigned") {
		t.Fatalf("healthy cluster: exit %d\n%s", code, out)
	}
	code, out = runChecked(t, "--redis-cluster", strings.Join(rc.Addrs(), ","), "--json")
	var res checkResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	if len(res.Shards) != 3 {
		t.Fatalf("%d masters checked, want 3", len(res.Shards))
	}
	for _, r := range res.Shards {
		if !strings.HasPrefix(r.Name, "slots ") || r.Role != "master" || len(r.Replicas) != 1 {
			t.Errorf("master %s: %+v", r.Name, r)
		}
	}

	// Take a slot away from its master: the cluster no longer covers it.
	m := redis.NewClient(&redis.Options{Addr: res.Shards[0].Addr})
	defer m.Close()
	if err := m.Do(context.Background(), "CLUSTER", "DELSLOTS", "0").Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		code, out := runChecked(t, "--redis-cluster", rc.Addrs()[0])
		if code != 1 || !strings.Contains(out, "16383 of 16384 slots are assigned") {
			return fmt.Errorf("exit %d\n%s", code, out)
		}
		return nil
	})
}

// A server that refuses CLIENT, CONFIG and MIGRATE (managed Redis) cannot
// back a near cache: check says so on the shard's line, lists the refused
// commands, and warns about each feature they turn off.
func TestCheckManagedServer(t *testing.T) {
	var args []string
	for _, c := range []string{"CLIENT", "CONFIG", "MIGRATE"} {
		args = append(args, "--rename-command", c, "")
	}
	s := redistest.NewServer(t, redistest.Options{Name: "managed", Persistence: true, Args: args})
	code, out := runChecked(t, "--shards", "m="+s.Addr(), "--json")
	if code != 0 {
		t.Fatalf("exit %d with warnings only, want 0\n%s", code, out)
	}
	r := parseResult(t, out)["m"]
	if r == nil || r.Tracking != "off: CLIENT refused" || !hasLine(r.Warnings, "near cache off: CLIENT refused") {
		t.Fatalf("shard without CLIENT: %+v", r)
	}
	if !slices.Equal(r.Refused, []string{"CLIENT", "CONFIG", "MIGRATE"}) || !strings.HasPrefix(r.Server, "redis ") {
		t.Errorf("refused %q, server %q; want CLIENT, CONFIG, MIGRATE on redis", r.Refused, r.Server)
	}
	for _, w := range []string{"MIGRATE refused", "notify-keyspace-events"} {
		if !hasLine(r.Warnings, w) {
			t.Errorf("no warning about %q in %q", w, r.Warnings)
		}
	}
	if _, out := runChecked(t, "--shards", "m="+s.Addr()); !strings.Contains(out, "off: CLIENT refused") || !strings.Contains(out, "CLIENT,CONFIG,MIGRATE") {
		t.Fatalf("the table does not say the near cache is off and which commands are refused:\n%s", out)
	}
}
