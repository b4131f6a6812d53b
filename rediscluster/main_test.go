package rediscluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
)

// shared is the Redis Cluster (3 masters, 3 replicas) that the tests which
// do not kill nodes share; each test keeps to its own key prefix.
var shared *redistest.RedisCluster

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{Masters: 3, Replicas: 1})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = rc
	code := m.Run()
	if err := rc.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(code)
}

// newCluster returns a Cluster on the shared Redis Cluster under a key
// prefix of the test's own, closed when the test ends.
func newCluster(t testing.TB, opt Options) *Cluster {
	t.Helper()
	opt.Addrs = shared.Addrs()
	opt.KeyPrefix = "t:" + strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + ":"
	c, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// idsOnEveryMaster returns n IDs per master of the shared cluster, so that
// a test covers every master.
func idsOnEveryMaster(t testing.TB, c *Cluster, n int) map[string][]string {
	t.Helper()
	byMaster := map[string][]string{}
	for i := 0; len(byMaster) < 3 || minLen(byMaster) < n; i++ {
		if i > 10000 {
			t.Fatalf("IDs land on %d masters", len(byMaster))
		}
		id := fmt.Sprintf("id%04d", i)
		m := c.Locate(id)
		if m == "" {
			t.Fatalf("Locate(%s) = \"\"", id)
		}
		if len(byMaster[m]) < n {
			byMaster[m] = append(byMaster[m], id)
		}
	}
	return byMaster
}

func minLen(m map[string][]string) int {
	n := -1
	for _, v := range m {
		if n < 0 || len(v) < n {
			n = len(v)
		}
	}
	return n
}
