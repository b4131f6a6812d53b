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

// redisClusterEnv is an Env of a Redis Cluster of local processes. Its
// shards are the addresses of the masters at start; a shard stands for
// that master's slots, which stay with the master's replicas when one is
// promoted (the scenarios move no slot).
type redisClusterEnv struct {
	rc          *redistest.RedisCluster
	nodeTimeout time.Duration
	shards      []string
	primaries   map[string]*redistest.Server
	replicas    map[string][]*redistest.Server
	// shardOf maps the address of every node to the shard it started in,
	// so that a promoted replica still names its shard.
	shardOf map[string]string
}

// StartRedisCluster starts an Env that is a Redis Cluster of opt.Shards
// masters with opt.Replicas replicas each, redis-server processes on
// loopback (package redistest), with cluster-node-timeout opt.DownAfter.
// opt.Sentinels and opt.FailoverTimeout do not apply.
func StartRedisCluster(ctx context.Context, opt Options) (Env, error) {
	opt.init()
	rc, err := redistest.StartRedisCluster(ctx, redistest.RedisClusterOptions{
		Masters: opt.Shards, Replicas: opt.Replicas, NodeTimeout: opt.DownAfter,
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: %w", err)
	}
	e := &redisClusterEnv{rc: rc, nodeTimeout: opt.DownAfter, primaries: map[string]*redistest.Server{},
		replicas: map[string][]*redistest.Server{}, shardOf: map[string]string{}}
	if err := e.learnTopology(ctx, opt.Replicas); err != nil {
		rc.Close()
		return nil, err
	}
	return e, nil
}

// learnTopology records which node replicates which master. StartRedisCluster
// returns once every replica's link is up, so ROLE answers for all.
func (e *redisClusterEnv) learnTopology(ctx context.Context, replicas int) error {
	masters, err := e.rc.Masters(ctx)
	if err != nil {
		return fmt.Errorf("chaos: redis cluster masters: %w", err)
	}
	for _, m := range masters {
		rs, err := e.rc.ReplicasOf(ctx, m)
		if err != nil {
			return fmt.Errorf("chaos: redis cluster replicas: %w", err)
		}
		if len(rs) != replicas {
			return fmt.Errorf("chaos: master %s has %d replicas, want %d", m.Addr(), len(rs), replicas)
		}
		name := m.Addr()
		e.shards = append(e.shards, name)
		e.primaries[name], e.replicas[name], e.shardOf[name] = m, rs, name
		for _, r := range rs {
			e.shardOf[r.Addr()] = name
		}
		if err := streaming(ctx, procNode{m}, e.Replicas(name)); err != nil {
			return err
		}
	}
	return nil
}

// streaming writes a key on primary and waits until every replica has
// applied it. A replica's link is up once it has loaded its master's
// snapshot, but after a diskless one the master streams writes to it only
// from the replica's next acknowledgement, up to a second later: a kill in
// that second would promote a replica without the writes since the start
// (redistest.Topology waits for this; StartRedisCluster does not).
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

func (e *redisClusterEnv) Kind() string             { return "process" }
func (e *redisClusterEnv) Backend() string          { return RedisClusterBackend }
func (e *redisClusterEnv) Shards() []string         { return e.shards }
func (e *redisClusterEnv) DownAfter() time.Duration { return e.nodeTimeout }
func (e *redisClusterEnv) Close() error             { return e.rc.Close() }

func (e *redisClusterEnv) Primary(shard string) Node { return procNode{e.primaries[shard]} }

func (e *redisClusterEnv) Replicas(shard string) []Node {
	var ns []Node
	for _, r := range e.replicas[shard] {
		ns = append(ns, procNode{r})
	}
	return ns
}

// Open returns a rediscluster.Cluster seeded with every node.
func (e *redisClusterEnv) Open(opt ClientOptions) (Client, error) {
	c, err := rediscluster.New(rediscluster.Options{
		Addrs: e.rc.Addrs(),
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
			if role, err := e.rc.Role(ctx, r); err == nil && role == "master" {
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
			return "cluster nodes, as " + r.Name + " sees them: " + strings.ReplaceAll(strings.TrimSpace(nodes), "\n", "; ")
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
