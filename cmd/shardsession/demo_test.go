package main

import "testing"

// The README's promise: `shardsession demo --smoke` exits 0 on a machine
// with redis-server installed.
func TestDemoSmoke(t *testing.T) {
	if code := runDemo([]string{"--smoke"}); code != 0 {
		t.Fatalf("demo --smoke exited %d", code)
	}
}

// The demo on a Redis Cluster: the login script, then a login through the
// kill of the session's master.
func TestDemoRedisClusterSmoke(t *testing.T) {
	if code := runDemo([]string{"--redis-cluster", "--smoke"}); code != 0 {
		t.Fatalf("demo --redis-cluster --smoke exited %d", code)
	}
}

// Behind the sticky proxy with near caches.
func TestDemoStickySmoke(t *testing.T) {
	if code := runDemo([]string{"--smoke", "--sentinel=false", "--near-cache", "--proxy", "sticky"}); code != 0 {
		t.Fatalf("demo --smoke --near-cache --proxy sticky exited %d", code)
	}
}

// The demo as on a managed service: login, a reshard onto the spare shard
// (its servers refuse MIGRATE), the failover of the session's shard behind
// its endpoint, logout.
func TestDemoManagedSmoke(t *testing.T) {
	if code := runDemo([]string{"--managed", "--smoke"}); code != 0 {
		t.Fatalf("demo --managed --smoke exited %d", code)
	}
}
