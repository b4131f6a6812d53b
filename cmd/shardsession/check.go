package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

func init() {
	commands["check"] = command{"report each shard's replication, persistence, eviction and Sentinel view; warn on settings that lose sessions", runCheck}
}

// checkResult is check's whole answer, as --json prints it.
type checkResult struct {
	OK        bool           `json:"ok"`
	Shards    []*shardReport `json:"shards"`
	Sentinels []string       `json:"sentinel_problems"`
	// Cluster is the Redis Cluster's own state (--redis-cluster), whose
	// problems are listed in Sentinels' place.
	Cluster *clusterReport `json:"redis_cluster,omitempty"`
}

func runCheck(args []string) int {
	return check(context.Background(), args, os.Stdout, os.Stderr)
}

// check runs the check command with args, printing the report to out and
// usage errors to errOut, and returns the exit code: 0 when all is well
// (or only warnings without --strict), 1 on errors, 2 on bad usage.
func check(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(errOut)
	top := addTopologyFlags(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	strict := fs.Bool("strict", false, "exit non-zero on warnings too")
	maxLag := fs.Duration("max-lag", 10*time.Second, "warn when a replica lags more than this")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	redisCluster := fs.String("redis-cluster", "", "check a Redis Cluster instead, from some of its nodes as host:port,...: cluster_state, slot coverage, and every master as a shard")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	if *redisCluster != "" {
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		return report(inspectRedisCluster(ctx, splitList(*redisCluster), checkLimits{maxLag: *maxLag}), *asJSON, *strict, out)
	}
	shardsText, sentinelsText, err := top.resolve()
	if err != nil {
		fmt.Fprintln(errOut, "check:", err)
		return 2
	}
	var shards []shard.Options
	if shardsText != "" {
		if shards, err = cluster.ParseShards(shardsText); err != nil {
			fmt.Fprintln(errOut, "check:", err)
			return 2
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	return report(inspect(ctx, shards, splitList(sentinelsText), checkLimits{maxLag: *maxLag}), *asJSON, *strict, out)
}

// report prints res, as JSON or a table, and returns check's exit code.
func report(res *checkResult, asJSON, strict bool, out io.Writer) int {
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	} else {
		printTable(out, res)
	}
	switch {
	case !res.OK:
		return 1
	case strict && res.warnings() > 0:
		return 1
	}
	return 0
}

// inspect checks the shards given and, with Sentinels, the masters they
// monitor (which are the shards when none are given).
func inspect(ctx context.Context, shards []shard.Options, sentinels []string, lim checkLimits) *checkResult {
	res := &checkResult{Sentinels: []string{}}
	var view *sentinelView
	if len(sentinels) > 0 {
		view = askSentinels(ctx, sentinels)
		res.Sentinels = append(res.Sentinels, view.problems...)
		if len(shards) == 0 {
			for _, name := range view.names {
				shards = append(shards, shard.Options{Name: name, Addr: view.shards[name].Primary})
			}
		}
	}
	res.Shards = make([]*shardReport, len(shards))
	var wg sync.WaitGroup
	for i, so := range shards {
		wg.Go(func() { res.Shards[i] = inspectShard(ctx, so.Name, so.Addr, so.Replicas, lim) })
	}
	wg.Wait()
	if view != nil {
		for _, r := range res.Shards {
			judgeSentinel(r, view.shards[r.Name])
		}
	}
	res.OK = len(shards) > 0 && (view == nil || len(view.problems) < len(sentinels))
	for _, r := range res.Shards {
		res.OK = res.OK && len(r.Errors) == 0
	}
	return res
}

func (res *checkResult) warnings() int {
	n := len(res.Sentinels)
	if res.Cluster != nil {
		n += len(res.Cluster.Problems)
	}
	for _, r := range res.Shards {
		n += len(r.Warnings)
	}
	return n
}

// printTable prints one line per shard, then every error and warning.
func printTable(out io.Writer, res *checkResult) {
	if c := res.Cluster; c != nil {
		fmt.Fprintf(out, "REDIS CLUSTER  state %s, %d/16384 slots assigned (%d ok, %d failed), %d nodes\n\n",
			dash(c.State), c.SlotsAssigned, c.SlotsOK, c.SlotsFail, c.KnownNodes)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARD\tPRIMARY\tSERVER\tROLE\tREPLICAS\tPERSISTENCE\tMAXMEMORY\tPOLICY\tCLIENTS\tNEAR CACHE\tTRACKED\tREFUSED\tSENTINELS\tSTATUS")
	for _, r := range res.Shards {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Addr, dash(r.Server), dash(r.Role),
			replicasCell(r), persistenceCell(r), memoryCell(r), dash(r.MaxMemoryPolicy), clientsCell(r), dash(r.Tracking), trackedCell(r),
			dash(strings.Join(r.Refused, ",")), sentinelCell(r), statusCell(r))
	}
	tw.Flush()
	for _, r := range res.Shards {
		for _, e := range r.Errors {
			fmt.Fprintf(out, "ERROR   %s: %s\n", r.Name, e)
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(out, "WARNING %s: %s\n", r.Name, w)
		}
	}
	if res.Cluster != nil {
		for _, p := range res.Cluster.Problems {
			fmt.Fprintf(out, "ERROR   redis cluster: %s\n", p)
		}
	}
	for _, p := range res.Sentinels {
		fmt.Fprintf(out, "WARNING %s\n", p)
	}
	if len(res.Shards) == 0 {
		fmt.Fprintln(out, "ERROR   no shards found")
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func replicasCell(r *shardReport) string {
	if !r.Reachable {
		return "-"
	}
	var lag int64
	for _, rep := range r.Replicas {
		lag = max(lag, rep.LagSeconds)
	}
	if len(r.Replicas) == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (lag %ds)", len(r.Replicas), lag)
}

func persistenceCell(r *shardReport) string {
	if r.AppendOnly == "" {
		return "-"
	}
	var parts []string
	if r.AppendOnly == "yes" {
		parts = append(parts, "aof "+r.AppendFsync)
	}
	if strings.TrimSpace(r.Save) != "" {
		parts = append(parts, "rdb")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

func memoryCell(r *shardReport) string {
	if !r.Reachable {
		return "-"
	}
	limit := "unlimited"
	if r.MaxMemory > 0 {
		limit = mib(r.MaxMemory)
	}
	return mib(r.UsedMemory) + "/" + limit
}

// clientsCell is the connections open, and the bound where known.
func clientsCell(r *shardReport) string {
	switch {
	case !r.Reachable:
		return "-"
	case r.MaxClients == 0:
		return strconv.FormatInt(r.Clients, 10)
	}
	return fmt.Sprintf("%d/%d", r.Clients, r.MaxClients)
}

// trackedCell is the tracking table: sessions held by near caches, and
// the nodes holding them summed.
func trackedCell(r *shardReport) string {
	if !r.Reachable {
		return "-"
	}
	return fmt.Sprintf("%d keys, %d items", r.TrackedKeys, r.TrackedItems)
}

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

func sentinelCell(r *shardReport) string {
	if r.Sentinel == nil {
		return "-"
	}
	return fmt.Sprintf("%d/%d q%d", r.Sentinel.Watching, r.Sentinel.Asked, r.Sentinel.Quorum)
}

func statusCell(r *shardReport) string {
	switch {
	case len(r.Errors) > 0:
		return "ERROR"
	case len(r.Warnings) > 0:
		return "warn"
	}
	return "ok"
}
