package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shardsession/shardsession/internal/fleet"
	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
)

// demoRedisCluster runs the demo on a local Redis Cluster of 3 masters
// with 2 replicas each (so that a promoted master still has a replica to
// confirm logouts): the same web nodes and proxy, each node's sessions in
// the cluster through package rediscluster. It returns the exit code.
func demoRedisCluster(ctx context.Context, nodes int, addr string, sticky, nearCache, smoke bool) int {
	fmt.Println("starting a Redis Cluster of redis-server (3 masters + 2 replicas each, cluster-node-timeout 1000 ms)...")
	rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{Masters: 3, Replicas: 2,
		// As docs/operations.md advises: the masters that keep their slots
		// serve them while a dead master's replica is promoted.
		Args: []string{"--cluster-require-full-coverage", "no"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer rc.Close()
	for _, s := range rc.Nodes {
		role, _ := rc.Role(ctx, s)
		fmt.Printf("  node %s (pid %d): %s\n", s.Addr(), s.Pid(), role)
	}
	f, err := startFleet(fleet.Options{RedisCluster: &rediscluster.Options{Addrs: rc.Addrs()}, Nodes: nodes, Addr: addr, Sticky: sticky, NearCache: nearCache})
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer f.Close()
	if smoke {
		if err := fleet.Smoke(ctx, f.URL, len(f.Nodes), f.Sticky, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// The page's "shard" is the address of the session's master.
		kill := func(master string) (string, error) { return killClusterMaster(rc, master) }
		if _, err := fleet.SmokeFailover(ctx, f.URL, len(f.Nodes), kill, 30*time.Second, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	}
	fmt.Printf("\nopen %s — a proxy over the web nodes; the page names the master that holds your session.\n", f.URL)
	fmt.Printf("check the cluster from another terminal:\n  go run ./cmd/shardsession check --redis-cluster %s\n", rc.Addrs()[0])
	fmt.Println("kill that master (kill -9 <pid> above): about 2 s later (cluster-node-timeout 1000 ms) the cluster")
	fmt.Println("has promoted its replica, and the web nodes follow it.")
	fmt.Println("Ctrl-C stops everything.")
	<-ctx.Done()
	fmt.Println("\nstopping...")
	return 0
}

// killClusterMaster kills the node at addr and says which.
func killClusterMaster(rc *redistest.RedisCluster, addr string) (string, error) {
	for _, s := range rc.Nodes {
		if s.Addr() == addr {
			return fmt.Sprintf("the master at %s (pid %d)", addr, s.Pid()), s.Kill()
		}
	}
	return "", fmt.Errorf("no node of the cluster at %q", addr)
}
