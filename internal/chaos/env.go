package chaos

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redistest"
)

// ErrUnsupported is returned by a fault an Env cannot inject (a network
// partition of a process on loopback).
var ErrUnsupported = errors.New("chaos: fault not supported by this environment")

// Env is a topology of shards, each a primary with replicas, and the
// store its clients use: shards watched by sentinels under the shard names
// (StartProcesses, StartDocker; a shard is a master name) or a Redis
// Cluster (StartRedisCluster; a shard is the address its master had at
// start, and stands for that master's slots).
type Env interface {
	// Kind names the environment in reports: "process" or "docker".
	Kind() string
	// Backend names the store in reports: SentinelBackend or
	// RedisClusterBackend. Each has its own table.
	Backend() string
	// Shards returns the shard names.
	Shards() []string
	// DownAfter is how long a primary may be silent before it is replaced:
	// the sentinels' down-after-milliseconds, or cluster-node-timeout.
	DownAfter() time.Duration
	// Primary returns the node started as the primary of shard.
	Primary(shard string) Node
	// Replicas returns the nodes started as replicas of shard.
	Replicas(shard string) []Node
	// Open returns a new client of the store over the env; the caller
	// closes it.
	Open(opt ClientOptions) (Client, error)
	// WaitPromoted returns once shard's primary is no longer old, as the
	// env's failover mechanism (the sentinels, the cluster) sees it, or
	// when ctx ends.
	WaitPromoted(ctx context.Context, shard, old string) error
	// Explain says, for an error, who the topology names as the primary
	// of shard.
	Explain(ctx context.Context, shard string) string
	// Close stops everything.
	Close() error
}

// The backends of Env.Backend.
const (
	SentinelBackend     = "sentinel"
	RedisClusterBackend = "redis cluster"
)

// SentinelEnv is an Env whose shards are watched by sentinels.
type SentinelEnv interface {
	Env
	// SentinelAddrs returns addresses of the sentinels reachable from
	// this process.
	SentinelAddrs() []string
}

// Node is one redis-server of an Env.
type Node interface {
	// Addr is the node's address as clients and sentinels see it.
	Addr() string
	// Kill stops the node at once (SIGKILL).
	Kill() error
	// Pause freezes it (SIGSTOP, docker pause); Resume continues it.
	Pause() error
	Resume() error
	// Partition cuts it off from sentinels and clients; Heal reconnects it
	// with the same address. ErrUnsupported where impossible.
	Partition() error
	Heal() error
	// Client returns a new client of this node; the caller closes it.
	Client() *redis.Client
}

// Options size an Env.
type Options struct {
	// Shards is the number of shards. Default 3.
	Shards int
	// Replicas per shard. Default 1.
	Replicas int
	// Sentinels. Default 3 (quorum 2).
	Sentinels int
	// DownAfter is down-after-milliseconds. Default 1 s.
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout. Default 3 s.
	FailoverTimeout time.Duration
}

func (o *Options) init() {
	if o.Shards <= 0 {
		o.Shards = 3
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.Sentinels <= 0 {
		o.Sentinels = 3
	}
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 3 * time.Second
	}
}

// processEnv is an Env of local processes.
type processEnv struct {
	sentinelOps
	top       *redistest.Topology
	downAfter time.Duration
}

// StartProcesses starts an Env of redis-server and redis-sentinel
// processes on loopback.
func StartProcesses(ctx context.Context, opt Options) (Env, error) {
	opt.init()
	top, err := redistest.StartTopology(ctx, redistest.TopologyOptions{
		Shards: opt.Shards, Replicas: opt.Replicas, Sentinels: opt.Sentinels,
		DownAfter: opt.DownAfter, FailoverTimeout: opt.FailoverTimeout,
	})
	if err != nil {
		return nil, err
	}
	e := &processEnv{top: top, downAfter: opt.DownAfter}
	e.sentinelOps = sentinelOps{e}
	return e, nil
}

func (e *processEnv) Kind() string             { return "process" }
func (e *processEnv) SentinelAddrs() []string  { return e.top.SentinelAddrs() }
func (e *processEnv) DownAfter() time.Duration { return e.downAfter }
func (e *processEnv) Close() error             { return e.top.Close() }

func (e *processEnv) Shards() []string {
	names := make([]string, len(e.top.Shards))
	for i, s := range e.top.Shards {
		names[i] = s.Name
	}
	return names
}

func (e *processEnv) Primary(shard string) Node { return procNode{e.top.Shard(shard).Primary} }

func (e *processEnv) Replicas(shard string) []Node {
	var ns []Node
	for _, r := range e.top.Shard(shard).Replicas {
		ns = append(ns, procNode{r})
	}
	return ns
}

// ProcessNode is the Node of a local redis-server.
func ProcessNode(s *redistest.Server) Node { return procNode{s} }

// procNode is a Node that is a local process.
type procNode struct{ *redistest.Server }

func (procNode) Partition() error { return ErrUnsupported }
func (procNode) Heal() error      { return ErrUnsupported }
