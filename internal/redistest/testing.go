package redistest

import (
	"context"
	"testing"
	"time"
)

// helperTimeout bounds how long the test helpers wait for a start.
const helperTimeout = 60 * time.Second

// NewServer starts a redis-server for a test and closes it in t.Cleanup.
// It fails the test (never skips) if redis-server is not installed or
// does not start.
func NewServer(t testing.TB, opt Options) *Server {
	t.Helper()
	if err := CheckInstalled(false); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	s, err := Start(ctx, opt)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return s
}

// NewTopology starts a topology for a test and closes it in t.Cleanup.
// It fails the test (never skips) if redis-server, or redis-sentinel when
// sentinels are asked for, is not installed, or if the start fails.
func NewTopology(t testing.TB, opt TopologyOptions) *Topology {
	t.Helper()
	if err := CheckInstalled(opt.Sentinels > 0); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	top, err := StartTopology(ctx, opt)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := top.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return top
}

// NewRedisCluster starts a Redis Cluster for a test and closes it in
// t.Cleanup. It fails the test (never skips) if redis-server or redis-cli
// is not installed, or if the start fails.
func NewRedisCluster(t testing.TB, opt RedisClusterOptions) *RedisCluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	rc, err := StartRedisCluster(ctx, opt)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := rc.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return rc
}
