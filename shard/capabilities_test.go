package shard_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// A shard probes its primary when it is made and reports, per command the
// optional features need, whether the server accepts it: here servers with
// those commands renamed away, as managed services refuse them.
func TestCapabilities(t *testing.T) {
	rename := func(cmds ...string) []string {
		var args []string
		for _, c := range cmds {
			args = append(args, "--rename-command", c, "")
		}
		return args
	}
	tests := []struct {
		name      string
		args      []string
		client    *redis.Options
		want      shard.Capabilities
		nearCache string
		off       []string // a word each line of Off() holds, in order
	}{
		{
			name: "self-hosted", args: []string{"--notify-keyspace-events", "Ex"},
			want:      shard.Capabilities{Scripts: true, Config: true, Migrate: true, Client: true, Tracking: true, KeyspaceEvents: "xE", Auth: "none"},
			nearCache: "ok",
		},
		{
			name: "no keyspace events", client: &redis.Options{Password: ""},
			want:      shard.Capabilities{Scripts: true, Config: true, Migrate: true, Client: true, Tracking: true, Auth: "none"},
			nearCache: "ok",
		},
		{
			name: "managed", args: rename("CONFIG", "MIGRATE"),
			want:      shard.Capabilities{Scripts: true, Client: true, Tracking: true, Auth: "none"},
			nearCache: "ok", off: []string{"MIGRATE", "CONFIG"},
		},
		{
			name: "managed without CLIENT", args: rename("CONFIG", "MIGRATE", "CLIENT"),
			want:      shard.Capabilities{Scripts: true, Auth: "none"},
			nearCache: "off: CLIENT refused", off: []string{"CLIENT", "MIGRATE", "CONFIG"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.NewServer(t, redistest.Options{Args: tt.args})
			sh, err := shard.New(shard.Options{Name: "s", Addr: srv.Addr(), Client: tt.client})
			if err != nil {
				t.Fatal(err)
			}
			defer sh.Close()
			var got shard.Capabilities
			redistest.Eventually(t, 10*time.Second, func(context.Context) error {
				if got = sh.Capabilities(); got.Probed.IsZero() {
					return errors.New("not probed yet")
				}
				return nil
			})
			if got.Err != nil || got.Server != "redis" || got.Version == "" {
				t.Errorf("server %q version %q, err %v", got.Server, got.Version, got.Err)
			}
			type flags struct {
				Scripts, Config, Migrate, Client, Tracking bool
				Events, Auth                               string
			}
			w, g := tt.want, got
			if a, b := (flags{w.Scripts, w.Config, w.Migrate, w.Client, w.Tracking, w.KeyspaceEvents, w.Auth}), (flags{g.Scripts, g.Config, g.Migrate, g.Client, g.Tracking, g.KeyspaceEvents, g.Auth}); a != b {
				t.Errorf("capabilities %+v, want %+v (refusals %v)", b, a, g.Refusals)
			}
			if nc := got.NearCache(); nc != tt.nearCache {
				t.Errorf("NearCache() = %q, want %q", nc, tt.nearCache)
			}
			off := got.Off()
			if len(off) != len(tt.off) || !slices.EqualFunc(off, tt.off, strings.Contains) {
				t.Errorf("Off() = %q, want lines holding %q", off, tt.off)
			}
		})
	}
}

// A primary that does not answer yet is probed again until it does.
func TestCapabilitiesAfterTheServerComesUp(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	sh, err := shard.New(shard.Options{Name: "s", Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	redistest.Eventually(t, 5*time.Second, func(context.Context) error {
		if sh.Capabilities().Err == nil {
			return errors.New("no failed probe reported yet")
		}
		return nil
	})
	if err := srv.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	redistest.Eventually(t, 10*time.Second, func(context.Context) error {
		if cp := sh.Capabilities(); cp.Probed.IsZero() || cp.Err != nil {
			return errors.New("not probed since the restart")
		}
		return nil
	})
}

// A static shard asks its primary INFO once per connection: the
// capability probe's connection skips the identity check, whose question
// the probe asks itself.
func TestProbeAsksInfoOnce(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	admin := srv.Client()
	ctx := context.Background()
	infoCalls := func() int {
		t.Helper()
		stats, err := admin.Info(ctx, "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(stats) {
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_info:calls="); ok {
				n, _, _ := strings.Cut(rest, ",")
				calls, err := strconv.Atoi(n)
				if err != nil {
					t.Fatal(err)
				}
				return calls
			}
		}
		return 0
	}
	before := infoCalls()
	sh, err := shard.New(shard.Options{Name: "s", Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	for end := time.Now().Add(10 * time.Second); sh.Stats().Capabilities.Probed.IsZero(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the primary was not probed")
		}
	}
	if err := sh.Primary().Ping(ctx).Err(); err != nil { // a pooled connection, checked
		t.Fatal(err)
	}
	// Less the INFO of the first reading.
	if got := infoCalls() - before - 1; got != 2 {
		t.Errorf("%d INFO commands: want 2, the probe's and the pooled connection's identity check", got)
	}
}
