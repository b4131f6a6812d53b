package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/shard"
)

func init() {
	commands["reshard"] = command{"add, remove or replace shards of a running fleet without losing sessions", runReshard}
}

func runReshard(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return reshard(ctx, args, os.Stdout, os.Stderr)
}

// reshard runs the reshard command: it reads the fleet's topology record
// (or takes --shards as the current topology if none is stored), computes
// the new shard list, and walks the fleet through the change with
// cluster.Reshard, drawing the migrator's progress. Exit codes: 0 done, 1
// failed (the fleet stays in a correct phase; run the same command again to
// carry on), 2 bad usage.
func reshard(ctx context.Context, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("reshard", flag.ContinueOnError)
	fs.SetOutput(errOut)
	top := addTopologyFlags(fs)
	add := fs.String("add", "", "shards to add, as name=host:port[+replica...],...")
	remove := fs.String("remove", "", "names of shards to drain and remove, comma-separated (replace = --remove old --add new=...)")
	rate := fs.Int("rate", 20000, "keys scanned per second by the migrator (negative: no cap)")
	batch := fs.Int("batch", 100, "keys per SCAN and per MIGRATE")
	settle := fs.Duration("settle", 0, "how long to wait for every web node to acknowledge a phase (default 2m)")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	usage := func(err error) int { fmt.Fprintln(errOut, "reshard:", err); return 2 }
	shardsText, sentinelsText, err := top.resolve()
	if err != nil {
		return usage(err)
	}
	var current []shard.Options
	if shardsText != "" {
		if current, err = cluster.ParseShards(shardsText); err != nil {
			return usage(err)
		}
	} else if current, err = sentinelShards(ctx, splitList(sentinelsText)); err != nil {
		fmt.Fprintln(errOut, "reshard:", err)
		return 1
	}
	var added []shard.Options
	if *add != "" {
		if added, err = cluster.ParseShards(*add); err != nil {
			return usage(err)
		}
	}
	removed := splitList(*remove)
	if len(added) == 0 && len(removed) == 0 {
		return usage(fmt.Errorf("nothing to do: give --add and/or --remove"))
	}

	c, err := cluster.New(cluster.Options{Shards: current})
	if err != nil {
		return usage(err)
	}
	defer c.Close()
	fleet, err := c.FleetTopology(ctx)
	if err != nil {
		fmt.Fprintln(errOut, "reshard:", err)
		return 1
	}
	next, err := plan(fleet.Shards, added, removed)
	if err != nil {
		return usage(err)
	}
	if fleet.Phase != cluster.PhaseStable {
		fmt.Fprintf(out, "epoch %d is in phase %s: finishing it first\n", fleet.Epoch, fleet.Phase)
		next = fleet.Shards
	}
	fmt.Fprintf(out, "%s → %s\n", names(fleet.Shards), names(next))

	bar := &progressBar{out: out}
	p, err := c.Reshard(ctx, next, cluster.ReshardOptions{
		Migrate: cluster.MigrateOptions{Rate: *rate, Batch: *batch, Progress: bar.draw},
		Settle:  *settle,
		OnPhase: func(t cluster.Topology, nodes int) {
			bar.done()
			fmt.Fprintf(out, "epoch %d: phase %s acknowledged by %d web node(s)\n", t.Epoch, t.Phase, nodes)
		},
	})
	bar.done()
	if err != nil {
		fmt.Fprintln(errOut, "reshard:", err)
		fmt.Fprintln(errOut, "reshard: the fleet is in a correct phase; run the same command again to carry on")
		return 1
	}
	fmt.Fprintf(out, "done: %s\n", p)
	for _, name := range removed {
		fmt.Fprintf(out, "shard %s holds no session any more and may be shut down\n", name)
	}
	return 0
}

// sentinelShards describes the shards that the sentinels at addrs monitor:
// each master is a shard of that name, found through them, as the web
// nodes of a Sentinel fleet describe it (a shard's options must match the
// nodes' for them to follow the change). The first sentinel that answers
// names the masters.
func sentinelShards(ctx context.Context, addrs []string) ([]shard.Options, error) {
	var errs []error
	for _, addr := range addrs {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second, MaxRetries: -1, DisableIdentity: true})
		names, err := masterNames(ctx, sc)
		sc.Close()
		if err != nil {
			errs = append(errs, fmt.Errorf("sentinel %s: %w", addr, err))
			continue
		}
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("sentinel %s monitors no master", addr))
			continue
		}
		slices.Sort(names)
		opts := make([]shard.Options, len(names))
		for i, name := range names {
			opts[i] = shard.Options{Name: name, Sentinel: &failover.Options{MasterName: name, SentinelAddrs: addrs}}
		}
		return opts, nil
	}
	return nil, fmt.Errorf("no sentinel named the shards: %w", errors.Join(errs...))
}

// plan returns cur without the shards named in remove, plus add.
func plan(cur, add []shard.Options, remove []string) ([]shard.Options, error) {
	next := slices.Clone(cur)
	for _, name := range remove {
		i := slices.IndexFunc(next, func(o shard.Options) bool { return o.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("no shard %q in the topology %s", name, names(cur))
		}
		next = slices.Delete(next, i, i+1)
	}
	for _, a := range add {
		if slices.ContainsFunc(next, func(o shard.Options) bool { return o.Name == a.Name }) {
			return nil, fmt.Errorf("shard %q is already in the topology %s", a.Name, names(cur))
		}
		next = append(next, a)
	}
	if len(next) == 0 {
		return nil, fmt.Errorf("that would remove every shard")
	}
	return next, nil
}

func names(opts []shard.Options) string {
	s := make([]string, len(opts))
	for i, o := range opts {
		s[i] = o.Name
	}
	return "[" + strings.Join(s, " ") + "]"
}

// progressBar draws the migrator's progress on one line.
type progressBar struct {
	out   io.Writer
	drawn bool
}

const barWidth = 30

func (b *progressBar) draw(p cluster.Progress) {
	frac := 1.0
	if p.Total > 0 && !p.Done {
		frac = min(1, float64(p.Scanned)/float64(p.Total))
	}
	n := int(frac * barWidth)
	fmt.Fprintf(b.out, "\r[%s%s] %3.0f%%  scanned %d of ~%d, moved %d, ~%d left ",
		strings.Repeat("#", n), strings.Repeat(".", barWidth-n), 100*frac, p.Scanned, p.Total, p.Moved, p.Remaining)
	b.drawn = true
}

// done ends the bar's line, if one was drawn.
func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprintln(b.out)
		b.drawn = false
	}
}
