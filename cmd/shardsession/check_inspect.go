package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
)

// shardReport is what check found out about one shard.
type shardReport struct {
	Name            string          `json:"name"`
	Addr            string          `json:"addr"`
	Reachable       bool            `json:"reachable"`
	Role            string          `json:"role,omitempty"`
	Replicas        []replicaReport `json:"replicas"`
	AppendOnly      string          `json:"appendonly,omitempty"`
	AppendFsync     string          `json:"appendfsync,omitempty"`
	Save            string          `json:"save"`
	MaxMemory       int64           `json:"maxmemory"`
	MaxMemoryPolicy string          `json:"maxmemory_policy,omitempty"`
	UsedMemory      int64           `json:"used_memory"`
	// Server is the server's flavour and version, e.g. "redis 7.0.15".
	Server string `json:"server,omitempty"`
	// Refused are the commands the library's features use that the server
	// refuses (renamed away or denied), as managed services do.
	Refused []string `json:"refused"`
	// Tracking is whether the server lets a near cache track keys, as the
	// capability probe found (shard.Capabilities.NearCache): "ok",
	// "off: " and why, or "unknown" when the probe failed.
	Tracking string `json:"tracking,omitempty"`
	// TrackedKeys and TrackedItems are the server's tracking table: the
	// sessions near caches hold, and the nodes that hold each, summed
	// (INFO's tracking_total_keys and tracking_total_items).
	TrackedKeys  int64 `json:"tracked_keys"`
	TrackedItems int64 `json:"tracked_items"`
	// Clients are the connections open; MaxClients the server's bound, 0
	// where CONFIG is refused.
	Clients    int64           `json:"clients"`
	MaxClients int64           `json:"maxclients"`
	Sentinel   *sentinelReport `json:"sentinel,omitempty"`
	Errors     []string        `json:"errors"`
	Warnings   []string        `json:"warnings"`
}

// replicaReport is one replica as its primary sees it.
type replicaReport struct {
	Addr         string `json:"addr"`
	State        string `json:"state"`
	LagSeconds   int64  `json:"lag_seconds"`
	OffsetBehind int64  `json:"offset_behind"`
}

func (r *shardReport) errorf(format string, args ...any) {
	r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
}

func (r *shardReport) warnf(format string, args ...any) {
	r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
}

// checkLimits are the thresholds of check's warnings.
type checkLimits struct {
	maxLag time.Duration // replica lag above this is a warning
}

// inspectShard asks the primary at addr about replication, persistence and
// memory, and judges the answers.
func inspectShard(ctx context.Context, name, addr string, wantReplicas []string, lim checkLimits) *shardReport {
	r := &shardReport{Name: name, Addr: addr, Replicas: []replicaReport{}, Refused: []string{}, Errors: []string{}, Warnings: []string{}}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
	defer c.Close()

	info, err := c.Info(ctx, "replication", "memory", "clients", "stats").Result()
	if err != nil {
		r.errorf("unreachable: %v", err)
		return r
	}
	r.Reachable = true
	fields := infoFields(info)
	r.Role = fields["role"]
	number := func(k string) int64 { n, _ := strconv.ParseInt(fields[k], 10, 64); return n }
	r.UsedMemory = number("used_memory")
	r.Clients = number("connected_clients")
	r.TrackedKeys, r.TrackedItems = number("tracking_total_keys"), number("tracking_total_items")
	if r.Role != "master" {
		r.errorf("is a %s of %s:%s, not a primary: name the current primary (or use --sentinel)", r.Role, fields["master_host"], fields["master_port"])
	}
	r.Replicas = replicasOf(fields)
	judgeReplicas(r, wantReplicas, lim)

	judgeCapabilities(r, shard.Probe(ctx, c, nil))
	if err := readSettings(ctx, c, r); err != nil {
		r.warnf("CONFIG GET refused (%v): persistence and eviction not checked", err)
		return r
	}
	judgeConfig(r)
	return r
}

// judgeCapabilities records what the probe (shard.Probe, the one every
// shard runs) found, whether a near cache can track the shard among it,
// and warns about each feature it turns off.
func judgeCapabilities(r *shardReport, cp shard.Capabilities) {
	r.Tracking = cp.NearCache()
	if cp.Err != nil {
		r.warnf("capabilities not probed: %v", cp.Err)
		return
	}
	r.Server = cp.Server + " " + cp.Version
	r.Refused = slices.Sorted(maps.Keys(cp.Refusals))
	for _, off := range cp.Off() {
		r.warnf("%s", off)
	}
}

// readSettings fills the persistence and memory settings.
func readSettings(ctx context.Context, c *redis.Client, r *shardReport) error {
	get := func(p string) (string, error) {
		m, err := c.ConfigGet(ctx, p).Result()
		return m[p], err
	}
	var err error
	for _, f := range []struct {
		param string
		dst   *string
	}{{"appendonly", &r.AppendOnly}, {"appendfsync", &r.AppendFsync}, {"save", &r.Save}, {"maxmemory-policy", &r.MaxMemoryPolicy}} {
		if *f.dst, err = get(f.param); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		param string
		dst   *int64
	}{{"maxmemory", &r.MaxMemory}, {"maxclients", &r.MaxClients}} {
		v, err := get(f.param)
		if err != nil {
			return err
		}
		*f.dst, _ = strconv.ParseInt(v, 10, 64)
	}
	return nil
}

// judgeReplicas warns about missing, lagging or disconnected replicas.
func judgeReplicas(r *shardReport, want []string, lim checkLimits) {
	if r.Role != "master" {
		return
	}
	if len(r.Replicas) == 0 {
		r.warnf("no replicas: if this primary is lost, its sessions are lost")
	}
	attached := map[string]bool{}
	for _, rep := range r.Replicas {
		attached[rep.Addr] = true
		switch {
		case rep.State != "online":
			r.warnf("replica %s is %s, not online", rep.Addr, rep.State)
		case time.Duration(rep.LagSeconds)*time.Second > lim.maxLag:
			r.warnf("replica %s lags %ds (> %s): a failover now would lose that much", rep.Addr, rep.LagSeconds, lim.maxLag)
		}
	}
	for _, w := range want {
		if !attached[w] {
			r.warnf("configured replica %s is not attached to this primary", w)
		}
	}
}

// judgeConfig warns about settings that lose sessions or refuse nodes.
func judgeConfig(r *shardReport) {
	if r.MaxClients > 0 && r.Clients*5 >= r.MaxClients*4 {
		r.warnf("%d clients of maxclients %d: Redis refuses connections past it; a web node holds about 2 per primary (docs/operations.md, \"Settings for a large fleet\")", r.Clients, r.MaxClients)
	}
	switch p := r.MaxMemoryPolicy; {
	case strings.HasPrefix(p, "allkeys-"):
		r.warnf("maxmemory-policy %s evicts live sessions when memory is full; use noeviction, so that writes fail loudly instead", p)
	case strings.HasPrefix(p, "volatile-"):
		r.warnf("maxmemory-policy %s evicts live sessions too (every session key has a TTL); use noeviction", p)
	}
	aof := r.AppendOnly == "yes"
	if !aof && strings.TrimSpace(r.Save) == "" {
		r.warnf("no persistence (appendonly no, save \"\"): a restart loses every session of this shard, and an empty restarted primary wipes its replicas")
	}
	if aof && r.AppendFsync == "no" {
		r.warnf("appendfsync no: the OS decides when the AOF reaches disk; a crash can lose ~30 s of sessions (everysec loses ~1 s)")
	}
}

// infoFields parses INFO output into key → value.
func infoFields(info string) map[string]string {
	out := map[string]string{}
	for line := range strings.SplitSeq(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

// replicasOf reads the slaveN lines of INFO replication, e.g.
// slave0:ip=127.0.0.1,port=6380,state=online,offset=1234,lag=0.
func replicasOf(fields map[string]string) []replicaReport {
	out := []replicaReport{}
	primaryOffset, _ := strconv.ParseInt(fields["master_repl_offset"], 10, 64)
	for i := 0; ; i++ {
		line, ok := fields["slave"+strconv.Itoa(i)]
		if !ok {
			return out
		}
		kv := map[string]string{}
		for part := range strings.SplitSeq(line, ",") {
			if k, v, ok := strings.Cut(part, "="); ok {
				kv[k] = v
			}
		}
		offset, _ := strconv.ParseInt(kv["offset"], 10, 64)
		lag, _ := strconv.ParseInt(kv["lag"], 10, 64)
		out = append(out, replicaReport{
			Addr:         net.JoinHostPort(kv["ip"], kv["port"]),
			State:        kv["state"],
			LagSeconds:   lag,
			OffsetBehind: max(primaryOffset-offset, 0),
		})
	}
}
