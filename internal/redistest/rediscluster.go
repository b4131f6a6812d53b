package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// cliBin is redis-cli, which joins the nodes of a Redis Cluster.
const cliBin = "redis-cli"

// redisClusterReadyTimeout bounds how long StartRedisCluster waits for
// cluster_state:ok and the replicas' links after the nodes are joined.
const redisClusterReadyTimeout = 30 * time.Second

// RedisClusterOptions configures StartRedisCluster. The zero value is three
// masters with one replica each.
type RedisClusterOptions struct {
	// Masters is the number of masters; the 16384 slots are split evenly
	// between them. Default 3 (Redis Cluster needs at least 3).
	Masters int
	// Replicas is the number of replicas per master. Default 1; negative:
	// none.
	Replicas int
	// NodeTimeout is every node's cluster-node-timeout: how long a master
	// may be unreachable before its replica is promoted. Default 1 s.
	NodeTimeout time.Duration
	// Dir is the parent directory; each node gets a subdirectory.
	// Default "": a new temporary directory, removed on Close.
	Dir string
	// Args are extra redis-server arguments for every node.
	Args []string
}

// init applies the defaults.
func (o *RedisClusterOptions) init() {
	if o.Masters <= 0 {
		o.Masters = 3
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Replicas < 0 {
		o.Replicas = 0
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = time.Second
	}
}

// RedisCluster is a Redis Cluster of redis-server processes on loopback
// ports. Which node is a master changes with failovers: ask Role, Masters
// or MasterForKey. Its methods are safe for concurrent use. Nodes changes
// only in AddMaster and RemoveMaster; while one of them may run, read the
// nodes through the methods (Addrs, Masters, ...), which take a snapshot.
type RedisCluster struct {
	// Nodes are all the nodes, in start order: redis-cli makes the first
	// Masters of them the masters; AddMaster appends, RemoveMaster removes.
	Nodes []*Server
	// Dir is the parent directory of the nodes' dirs.
	Dir string

	opt      RedisClusterOptions
	mu       sync.Mutex // guards Nodes and added
	added    int        // masters AddMaster started: names their nodes
	changeMu sync.Mutex // serialises AddMaster, Rebalance, RemoveMaster

	ownDir    bool
	closeOnce sync.Once
	closeErr  error
}

// StartRedisCluster starts Masters × (1 + Replicas) cluster-enabled
// redis-servers concurrently, joins them with redis-cli --cluster create,
// and waits until every node reports cluster_state:ok and every replica's
// link to its master is up. On any error it stops what it started.
func StartRedisCluster(ctx context.Context, opt RedisClusterOptions) (*RedisCluster, error) {
	opt.init()
	cli, err := lookBin(cliBin)
	if err != nil {
		return nil, err
	}
	if err := CheckInstalled(false); err != nil {
		return nil, err
	}
	rc := &RedisCluster{Dir: opt.Dir, opt: opt}
	if rc.Dir == "" {
		if rc.Dir, err = os.MkdirTemp("", "redistest-cluster-"); err != nil {
			return nil, fmt.Errorf("redistest: start redis cluster: %w", err)
		}
		rc.ownDir = true
	}
	n := opt.Masters * (1 + opt.Replicas)
	rc.Nodes = make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		name := "node" + strconv.Itoa(i)
		wg.Go(func() {
			rc.Nodes[i], errs[i] = Start(ctx, Options{
				Dir:                filepath.Join(rc.Dir, name),
				Args:               opt.Args,
				Name:               name,
				ClusterNodeTimeout: opt.NodeTimeout,
			})
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redistest: start redis cluster: %w", err)
	}
	args := append([]string{"--cluster", "create"}, rc.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opt.Replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redistest: start redis cluster: redis-cli --cluster create: %w\n%s", err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, redisClusterReadyTimeout)
	defer cancel()
	if err := rc.WaitOK(wctx); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redistest: start redis cluster: %w", err)
	}
	if err := rc.waitStreaming(wctx); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("redistest: start redis cluster: %w", err)
	}
	return rc, nil
}

// waitStreaming waits until every replica applies its master's writes
// (the topology's waitStreaming says why), with a key of each master's
// slots.
func (rc *RedisCluster) waitStreaming(ctx context.Context) error {
	masters, err := rc.Masters(ctx)
	if err != nil {
		return err
	}
	for _, m := range masters {
		key := ""
		for i := 0; ; i++ {
			key = fmt.Sprintf("%s{%d}", streamCheckKey, i)
			owner, err := masterForKey(ctx, m, key)
			if err != nil {
				return err
			}
			if owner == m.Addr() {
				break
			}
		}
		replicas, err := rc.ReplicasOf(ctx, m)
		if err != nil {
			return err
		}
		if err := waitStreaming(ctx, m.Name, m, replicas, key); err != nil {
			return err
		}
	}
	return nil
}

// Addrs returns every node's address, in Nodes order: the seed list of a
// cluster client.
func (rc *RedisCluster) Addrs() []string {
	nodes := rc.nodes()
	addrs := make([]string, len(nodes))
	for i, s := range nodes {
		addrs[i] = s.Addr()
	}
	return addrs
}

// nodes returns a snapshot of Nodes.
func (rc *RedisCluster) nodes() []*Server {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*Server(nil), rc.Nodes...)
}

// running returns the nodes whose process is alive.
func (rc *RedisCluster) running() []*Server {
	var live []*Server
	for _, s := range rc.nodes() {
		if s.Running() {
			live = append(live, s)
		}
	}
	return live
}

// WaitOK polls until every running node reports cluster_state:ok with all
// 16384 slots assigned, and every running replica reports its link to its
// master up, or ctx ends. After a master is killed it returns once a
// replica has taken its slots over.
func (rc *RedisCluster) WaitOK(ctx context.Context) error {
	return poll(ctx, func(ctx context.Context) error {
		for _, s := range rc.running() {
			if err := nodeOK(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
		}
		return nil
	})
}

// nodeOK checks one node's CLUSTER INFO and, for a replica, its link.
func nodeOK(ctx context.Context, s *Server) error {
	c := s.Client()
	defer c.Close()
	info, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") {
		return errors.New("cluster state not ok")
	}
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return err
	}
	if len(role) >= 4 && role[0] == "slave" && role[3] != "connected" {
		return fmt.Errorf("replica link %v", role[3])
	}
	return nil
}

// Role returns "master" or "replica" as the node s says now (ROLE).
func (rc *RedisCluster) Role(ctx context.Context, s *Server) (string, error) {
	c := s.Client()
	defer c.Close()
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return "", fmt.Errorf("redistest: %s: role: %w", s.Name, err)
	}
	if len(role) > 0 && role[0] == "slave" {
		return "replica", nil
	}
	return fmt.Sprint(role[0]), nil
}

// Masters returns the running nodes that are masters now.
func (rc *RedisCluster) Masters(ctx context.Context) ([]*Server, error) {
	var masters []*Server
	for _, s := range rc.running() {
		role, err := rc.Role(ctx, s)
		if err != nil {
			return nil, err
		}
		if role == "master" {
			masters = append(masters, s)
		}
	}
	return masters, nil
}

// MasterForKey returns the node that owns key's slot, as the first running
// node that answers CLUSTER SLOTS sees it. During a failover nodes may
// disagree for a moment: poll (with WaitOK) for the answer you expect.
func (rc *RedisCluster) MasterForKey(ctx context.Context, key string) (*Server, error) {
	var errs []error
	for _, s := range rc.running() {
		m, err := masterForKey(ctx, s, key)
		if err == nil {
			return rc.node(m)
		}
		errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
	}
	return nil, fmt.Errorf("redistest: master for key %q: %w", key, errors.Join(errs...))
}

// masterForKey asks s for the address of the master of key's slot.
func masterForKey(ctx context.Context, s *Server, key string) (string, error) {
	c := s.Client()
	defer c.Close()
	slot, err := c.ClusterKeySlot(ctx, key).Result()
	if err != nil {
		return "", err
	}
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	for _, r := range ranges {
		if int64(r.Start) <= slot && slot <= int64(r.End) && len(r.Nodes) > 0 {
			return r.Nodes[0].Addr, nil
		}
	}
	return "", fmt.Errorf("slot %d not assigned", slot)
}

// node returns the node at addr.
func (rc *RedisCluster) node(addr string) (*Server, error) {
	for _, s := range rc.nodes() {
		if s.Addr() == addr {
			return s, nil
		}
	}
	return nil, fmt.Errorf("redistest: %s is not a node of this cluster", addr)
}

// Client returns a new go-redis cluster client seeded with every node; the
// caller closes it.
func (rc *RedisCluster) Client() *redis.ClusterClient {
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs(), DisableIdentity: true})
}

// Close stops every node concurrently and removes the parent directory if
// StartRedisCluster created it. It is idempotent.
func (rc *RedisCluster) Close() error {
	rc.closeOnce.Do(func() {
		nodes := rc.nodes()
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, s := range nodes {
			if s != nil {
				wg.Go(func() { errs[i] = s.Close() })
			}
		}
		wg.Wait()
		if rc.ownDir {
			errs = append(errs, os.RemoveAll(rc.Dir))
		}
		rc.closeErr = errors.Join(errs...)
	})
	return rc.closeErr
}

// ReplicasOf returns the running nodes that say (ROLE) they replicate
// master.
func (rc *RedisCluster) ReplicasOf(ctx context.Context, master *Server) ([]*Server, error) {
	var replicas []*Server
	for _, s := range rc.running() {
		c := s.Client()
		role, err := c.Do(ctx, "ROLE").Slice()
		c.Close()
		if err != nil {
			return nil, fmt.Errorf("redistest: %s: role: %w", s.Name, err)
		}
		if len(role) >= 3 && role[0] == "slave" && fmt.Sprintf("%v:%v", role[1], role[2]) == master.Addr() {
			replicas = append(replicas, s)
		}
	}
	return replicas, nil
}
