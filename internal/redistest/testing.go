package redistest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// helperTimeout bounds how long the test helpers wait for a start.
const helperTimeout = 60 * time.Second

// NewServer starts a redis-server for a test and closes it in t.Cleanup.
// It fails the test (never skips) if redis-server is not installed or
// does not start.
func NewServer(t testing.TB, opt Options) *Server {
	t.Helper()
	return startForTest(t, CheckInstalled(false), func(ctx context.Context) (*Server, error) { return Start(ctx, opt) })
}

// NewTopology starts a topology for a test and closes it in t.Cleanup.
// It fails the test (never skips) if redis-server, or redis-sentinel when
// sentinels are asked for, is not installed, or if the start fails.
func NewTopology(t testing.TB, opt TopologyOptions) *Topology {
	t.Helper()
	return startForTest(t, CheckInstalled(opt.Sentinels > 0), func(ctx context.Context) (*Topology, error) { return StartTopology(ctx, opt) })
}

// NewRedisCluster starts a Redis Cluster for a test and closes it in
// t.Cleanup. It fails the test (never skips) if redis-server or redis-cli
// is not installed, or if the start fails.
func NewRedisCluster(t testing.TB, opt RedisClusterOptions) *RedisCluster {
	t.Helper()
	return startForTest(t, nil, func(ctx context.Context) (*RedisCluster, error) { return StartRedisCluster(ctx, opt) })
}

// startForTest fails the test with installed (the result of
// CheckInstalled) if not nil, else runs start within helperTimeout, fails
// the test if it fails, and closes what it started in t.Cleanup.
func startForTest[T interface{ Close() error }](t testing.TB, installed error, start func(context.Context) (T, error)) T {
	t.Helper()
	if installed != nil {
		t.Fatalf("%v", installed)
	}
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	v, err := start(ctx)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := v.Close(); err != nil {
			t.Errorf("%v", err)
		}
	})
	return v
}

// NewTracker opens a RESP3 connection to s in Redis's default tracking
// mode, as a web node's near cache holds one: s remembers every key read
// on it until the key changes. It is closed in t.Cleanup.
func (s *Server) NewTracker(t testing.TB) *redis.Conn {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: s.Addr(), Protocol: 3, PoolSize: 1})
	conn := client.Conn()
	t.Cleanup(func() {
		conn.Close()
		client.Close()
	})
	if err := conn.Do(context.Background(), "CLIENT", "TRACKING", "ON").Err(); err != nil {
		t.Fatalf("CLIENT TRACKING ON at %s: %v", s.Addr(), err)
	}
	return conn
}
