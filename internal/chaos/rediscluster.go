package chaos

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/shardsession/shardsession/internal/redistest"
	"github.com/shardsession/shardsession/rediscluster"
)

// redisClusterEnv is an Env of a Redis Cluster, of processes or
// containers. Its shards are the addresses of the masters at start; a
// shard stands for that master's slots, which stay with the master's
// replicas when one is promoted (the scenarios move no slot).
type redisClusterEnv struct {
	kind        string
	nodeTimeout time.Duration
	seeds       []string // every node's address, for the client
	shards      []string
	primaries   map[string]Node
	replicas    map[string][]Node
	// shardOf maps the address of every node to the shard it started in,
	// so that a promoted replica still names its shard.
	shardOf map[string]string
	close   func() error
}

// clusterArgs are the settings of every node of a Redis Cluster Env beyond
// redis-server's defaults: cluster-require-full-coverage no, as
// docs/operations.md advises for sessions, so that the masters that still
// own their slots keep answering while a dead master's replica is being
// promoted (with yes, the default, every master answers CLUSTERDOWN until
// the promotion: on a loaded machine, seconds).
var clusterArgs = []string{"--cluster-require-full-coverage", "no"}

// StartRedisCluster starts an Env that is a Redis Cluster of opt.Shards
// masters with opt.Replicas replicas each, redis-server processes on
// loopback (package redistest), with cluster-node-timeout opt.DownAfter
// and clusterArgs. opt.Sentinels and opt.FailoverTimeout do not apply.
func StartRedisCluster(ctx context.Context, opt Options) (Env, error) {
	opt.init()
	rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{
		Masters: opt.Shards, Replicas: opt.Replicas, NodeTimeout: opt.DownAfter, Args: clusterArgs,
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	nodes := make([]Node, len(rc.Nodes))
	for i, s := range rc.Nodes {
		nodes[i] = procNode{s}
	}
	e, err := newRedisClusterEnv(ctx, "process", opt, nodes, rc.Close)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return e, nil
}

// newRedisClusterEnv learns which of nodes, a Redis Cluster whose every
// replica's link is up, replicates which master, and waits until each
// replica applies its master's writes.
func newRedisClusterEnv(ctx context.Context, kind string, opt Options, nodes []Node, close func() error) (*redisClusterEnv, error) {
	e := &redisClusterEnv{kind: kind, nodeTimeout: opt.DownAfter, primaries: map[string]Node{},
		replicas: map[string][]Node{}, shardOf: map[string]string{}, close: close}
	masterOf := map[string]string{}
	for _, n := range nodes {
		e.seeds = append(e.seeds, n.Addr())
		master, err := roleOf(ctx, n)
		if err != nil {
			return nil, err
		}
		if master == "" {
			e.shards = append(e.shards, n.Addr())
			e.primaries[n.Addr()], e.shardOf[n.Addr()] = n, n.Addr()
		}
		masterOf[n.Addr()] = master
	}
	for _, n := range nodes {
		if m := masterOf[n.Addr()]; m != "" {
			e.replicas[m] = append(e.replicas[m], n)
			e.shardOf[n.Addr()] = m
		}
	}
	for _, name := range e.shards {
		if got := len(e.replicas[name]); got != opt.Replicas {
			return nil, fmt.Errorf("chaos: master %s has %d replicas, want %d", name, got, opt.Replicas)
		}
		if err := streaming(ctx, e.primaries[name], e.replicas[name]); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// roleOf returns "" for a master, the address of its master for a
// replica (ROLE).
func roleOf(ctx context.Context, n Node) (master string, err error) {
	c := n.Client()
	defer c.Close()
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", fmt.Errorf("chaos: role of %s: %w", n.Addr(), err)
	}
	if len(role) >= 3 && role[0] == "slave" {
		return fmt.Sprintf("%v:%v", role[1], role[2]), nil
	}
	return "", nil
}

// streaming writes a key on primary and waits until every replica has
// applied it. A replica's link is up once it has loaded its master's
// snapshot, but after a diskless one the master streams writes to it only
// from the replica's next acknowledgement, up to a second later: a kill in
// that second would promote a replica without the writes since the start
// (redistest waits for this in the clusters it starts; containers need it
// here).
func streaming(ctx context.Context, primary Node, replicas []Node) error {
	c := primary.Client()
	defer c.Close()
	tag, err := ownTag(ctx, c)
	if err == nil {
		err = c.Set(ctx, "chaos:stream-check:"+tag, "1", time.Minute).Err()
	}
	for _, r := range replicas {
		if err == nil {
			err = caughtUp(ctx, primary, r)
		}
	}
	if err != nil {
		return fmt.Errorf("chaos: replicas of %s streaming: %w", primary.Addr(), err)
	}
	return nil
}

func (e *redisClusterEnv) Kind() string                 { return e.kind }
func (e *redisClusterEnv) Backend() string              { return RedisClusterBackend }
func (e *redisClusterEnv) Shards() []string             { return e.shards }
func (e *redisClusterEnv) DownAfter() time.Duration     { return e.nodeTimeout }
func (e *redisClusterEnv) Close() error                 { return e.close() }
func (e *redisClusterEnv) Primary(shard string) Node    { return e.primaries[shard] }
func (e *redisClusterEnv) Replicas(shard string) []Node { return e.replicas[shard] }

// Open returns a rediscluster.Cluster seeded with every node.
func (e *redisClusterEnv) Open(opt ClientOptions) (Client, error) {
	c, err := rediscluster.New(rediscluster.Options{
		Addrs: e.seeds,
		// WAIT runs on a go-redis Conn, which shares its client's options
		// but not their lock; the fallback of the maintenance-notification
		// handshake writes them on a connection's first use: a data race
		// under -race (package shard turns the handshake off for the same
		// reason). Redis 7 sends no such notifications.
		Client:     &redis.ClusterOptions{MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}},
		Durability: rediscluster.Durability{SaveReplicas: opt.SaveReplicas, DeleteReplicas: opt.DeleteReplicas},
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: redis cluster client: %w", err)
	}
	return redisClusterClient{c, e.shardOf}, nil
}

// WaitPromoted polls the shard's replicas until one of them says it is a
// master: the cluster has failed the old one over.
func (e *redisClusterEnv) WaitPromoted(ctx context.Context, shard, old string) error {
	return redistest.Poll(ctx, func(ctx context.Context) error {
		for _, r := range e.replicas[shard] {
			if master, err := roleOf(ctx, r); err == nil && master == "" {
				return nil
			}
		}
		return fmt.Errorf("no replica of %s promoted yet", old)
	})
}

// Explain returns what a replica of shard says of the cluster's nodes.
func (e *redisClusterEnv) Explain(ctx context.Context, shard string) string {
	var errs []error
	for _, r := range e.replicas[shard] {
		c := r.Client()
		nodes, err := c.ClusterNodes(ctx).Result()
		c.Close()
		if err == nil {
			return "cluster nodes, as " + r.Addr() + " sees them: " + strings.ReplaceAll(strings.TrimSpace(nodes), "\n", "; ")
		}
		errs = append(errs, err)
	}
	return fmt.Sprintf("no replica answers CLUSTER NODES: %v", errors.Join(errs...))
}

// redisClusterClient is a rediscluster.Cluster whose Locate names the
// shard (the master at start) rather than the slot's master now.
type redisClusterClient struct {
	*rediscluster.Cluster
	shardOf map[string]string
}

func (c redisClusterClient) Locate(id string) string { return c.shardOf[c.Cluster.Locate(id)] }
