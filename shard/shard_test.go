package shard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/shard"
)

// replyError is a Redis error reply, as go-redis returns them.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func TestWrap(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"connection refused", fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), true},
		{"eof", io.EOF, true},
		{"deadline", context.DeadlineExceeded, true},
		{"pool closed", redis.ErrClosed, true},
		{"loading", replyError("LOADING Redis is loading the dataset in memory"), true},
		{"readonly replica", replyError("READONLY You can't write against a read only replica."), true},
		{"no replicas", replyError("NOREPLICAS Not enough good replicas to write."), true},
		{"wrong type", replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{"script error", replyError("ERR Error running script"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := shard.Wrap("s7", tt.err)
			if got := errors.Is(err, shard.ErrUnavailable); got != tt.unavailable {
				t.Fatalf("errors.Is(ErrUnavailable) = %v, want %v (%v)", got, tt.unavailable, err)
			}
			if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), "shard s7") {
				t.Fatalf("Wrap lost the cause or the shard name: %v", err)
			}
		})
	}
	if shard.Wrap("s7", nil) != nil || shard.Wrap("s7", redis.Nil) != redis.Nil {
		t.Fatal("nil and redis.Nil must pass through unchanged")
	}
}

func TestPingAndDown(t *testing.T) {
	srv := redistest.NewServer(t, redistest.Options{})
	sh, err := shard.New(shard.Options{Name: "s0", Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	ctx := context.Background()
	if err := sh.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := sh.Ping(ctx); !errors.Is(err, shard.ErrUnavailable) {
		t.Fatalf("Ping of a killed primary = %v, want ErrUnavailable", err)
	}
}

func TestNewValidates(t *testing.T) {
	noMaster := shard.Options{Name: "s0", Sentinel: &failover.Options{SentinelAddrs: []string{"127.0.0.1:1"}}}
	noSentinels := shard.Options{Name: "s0", Sentinel: &failover.Options{MasterName: "s0"}}
	both := shard.Options{Name: "s0", Addr: "127.0.0.1:1", Sentinel: &failover.Options{MasterName: "s0", SentinelAddrs: []string{"127.0.0.1:1"}}}
	for _, opt := range []shard.Options{{}, {Name: "s0"}, {Addr: "127.0.0.1:1"}, noMaster, noSentinels, both} {
		if _, err := shard.New(opt); !errors.Is(err, shard.ErrBadOptions) {
			t.Errorf("New(%+v) = %v, want ErrBadOptions", opt, err)
		}
	}
}
