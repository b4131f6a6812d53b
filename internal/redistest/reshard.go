package redistest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Resharding by the engine: the steps an operator runs with redis-cli
// --cluster to grow a Redis Cluster by one master and to shrink it again,
// each waited for until the cluster is consistent, so that a test can run
// load across them. redis-cli moves the keys slot by slot (SETSLOT
// IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE), the way a production
// reshard does.

// redisClusterChangeTimeout bounds each of AddMaster, Rebalance and
// RemoveMaster, on top of the caller's context: a move of a quarter of the
// slots with some thousands of keys takes seconds on loopback.
const redisClusterChangeTimeout = 3 * time.Minute

// AddMaster starts one more cluster-enabled redis-server, with the
// options the cluster was started with, joins it to the cluster as a
// master without slots (redis-cli --cluster add-node), and waits until
// every running node knows it and the cluster is stable (WaitStable). It appends the server to Nodes. Give it
// slots with Rebalance.
func (rc *RedisCluster) AddMaster(ctx context.Context) (*Server, error) {
	rc.changeMu.Lock()
	defer rc.changeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, redisClusterChangeTimeout)
	defer cancel()
	seed, err := rc.seed(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("redistest: add master: %w", err)
	}
	rc.mu.Lock()
	name := "added" + strconv.Itoa(rc.added)
	rc.added++
	rc.mu.Unlock()
	s, err := Start(ctx, Options{
		Dir:                filepath.Join(rc.Dir, name),
		Args:               rc.opt.Args,
		Name:               name,
		ClusterNodeTimeout: rc.opt.NodeTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("redistest: add master: %w", err)
	}
	if err := runCli(ctx, "--cluster", "add-node", s.Addr(), seed.Addr()); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("redistest: add master %s: %w", name, err)
	}
	id, err := nodeID(ctx, s)
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("redistest: add master %s: %w", name, err)
	}
	rc.mu.Lock()
	rc.Nodes = append(rc.Nodes, s)
	rc.mu.Unlock()
	// add-node returns once CLUSTER MEET is sent; gossip spreads the new
	// node to the others within a few node timeouts.
	if err := rc.waitKnown(ctx, id, true); err != nil {
		return s, fmt.Errorf("redistest: add master %s: %w", name, err)
	}
	// The new node serves (and accepts MIGRATE) only once it has learnt
	// the slot map and says cluster_state:ok; until then it answers
	// CLUSTERDOWN, and a rebalance started too early fails.
	if err := rc.WaitStable(ctx); err != nil {
		return s, fmt.Errorf("redistest: add master %s: %w", name, err)
	}
	return s, nil
}

// Rebalance spreads the slots evenly over the masters, including the
// empty ones that AddMaster added (redis-cli --cluster rebalance
// --cluster-use-empty-masters), and waits until the cluster is ok and
// every node has the same slot map with no slot left open (WaitStable).
func (rc *RedisCluster) Rebalance(ctx context.Context) error {
	rc.changeMu.Lock()
	defer rc.changeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, redisClusterChangeTimeout)
	defer cancel()
	seed, err := rc.seed(ctx, nil)
	if err != nil {
		return fmt.Errorf("redistest: rebalance: %w", err)
	}
	if err := runCli(ctx, "--cluster", "rebalance", seed.Addr(), "--cluster-use-empty-masters", "--cluster-yes"); err != nil {
		return fmt.Errorf("redistest: rebalance: %w", err)
	}
	if err := rc.WaitStable(ctx); err != nil {
		return fmt.Errorf("redistest: rebalance: %w", err)
	}
	return nil
}

// RemoveMaster moves every slot of the master s to the other masters
// (redis-cli --cluster rebalance --cluster-weight <id>=0), removes it from
// the cluster (redis-cli --cluster del-node, which makes the others forget
// it), stops it and takes it out of Nodes, then waits until the cluster is
// stable. s must have no replicas.
func (rc *RedisCluster) RemoveMaster(ctx context.Context, s *Server) error {
	rc.changeMu.Lock()
	defer rc.changeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, redisClusterChangeTimeout)
	defer cancel()
	if !slices.Contains(rc.nodes(), s) {
		return fmt.Errorf("redistest: remove master %s: not a node of this cluster", s.Name)
	}
	id, err := nodeID(ctx, s)
	if err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	seed, err := rc.seed(ctx, s)
	if err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	if err := runCli(ctx, "--cluster", "rebalance", seed.Addr(), "--cluster-weight", id+"=0", "--cluster-yes"); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	// Every node must see s without slots before del-node, which refuses
	// a node that still owns some.
	if err := rc.WaitStable(ctx); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	if n, err := slotsOf(ctx, seed, s.Addr()); err != nil || n > 0 {
		return fmt.Errorf("redistest: remove master %s: %d slots left after the rebalance (%v)", s.Name, n, err)
	}
	if err := runCli(ctx, "--cluster", "del-node", seed.Addr(), id, "--cluster-yes"); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	rc.mu.Lock()
	rc.Nodes = slices.DeleteFunc(rc.Nodes, func(n *Server) bool { return n == s })
	rc.mu.Unlock()
	if err := s.Close(); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	if err := rc.waitKnown(ctx, id, false); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	if err := rc.WaitStable(ctx); err != nil {
		return fmt.Errorf("redistest: remove master %s: %w", s.Name, err)
	}
	return nil
}

// WaitStable is WaitOK, and then polls until every running node reports
// the same slot map (CLUSTER SLOTS: ranges and their masters) and no node
// has a slot open for import or migration: a reshard has settled
// everywhere, not only on the nodes redis-cli talked to last.
func (rc *RedisCluster) WaitStable(ctx context.Context) error {
	if err := rc.WaitOK(ctx); err != nil {
		return err
	}
	return poll(ctx, func(ctx context.Context) error {
		var first string
		for i, s := range rc.running() {
			m, err := slotMap(ctx, s)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Name, err)
			}
			if i == 0 {
				first = m
			} else if m != first {
				return fmt.Errorf("%s: slot map differs", s.Name)
			}
		}
		return nil
	})
}

// seed returns a running master other than not, for redis-cli to start
// from.
func (rc *RedisCluster) seed(ctx context.Context, not *Server) (*Server, error) {
	masters, err := rc.Masters(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range masters {
		if m != not {
			return m, nil
		}
	}
	return nil, errors.New("no running master")
}

// runCli runs redis-cli with args and returns its output with the error
// when it fails.
func runCli(ctx context.Context, args ...string) error {
	cli, err := lookBin(cliBin)
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli %s: %w\n%s", strings.Join(args[:2], " "), err, out)
	}
	return nil
}

// nodeID returns s's cluster node ID (CLUSTER MYID).
func nodeID(ctx context.Context, s *Server) (string, error) {
	c := s.Client()
	defer c.Close()
	return c.Do(ctx, "CLUSTER", "MYID").Text()
}

// waitKnown waits until the node table of every running node lists id
// (want) or no longer does (!want): gossip spreads a node added or
// forgotten within a few node timeouts.
func (rc *RedisCluster) waitKnown(ctx context.Context, id string, want bool) error {
	return poll(ctx, func(ctx context.Context) error {
		for _, n := range rc.running() {
			if err := knows(ctx, n, id, want); err != nil {
				return err
			}
		}
		return nil
	})
}

// knows checks that n's node table lists id (want) or does not (!want).
func knows(ctx context.Context, n *Server, id string, want bool) error {
	c := n.Client()
	defer c.Close()
	nodes, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return fmt.Errorf("%s: %w", n.Name, err)
	}
	if got := strings.Contains(nodes, id); got != want {
		return fmt.Errorf("%s: knows %s: %v", n.Name, id, got)
	}
	return nil
}

// slotMap is s's view of the slot map as a string, "" if s has a slot
// open (CLUSTER NODES marks it "[slot->-id]" or "[slot-<-id]").
func slotMap(ctx context.Context, s *Server) (string, error) {
	c := s.Client()
	defer c.Close()
	nodes, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return "", err
	}
	if strings.Contains(nodes, "->-") || strings.Contains(nodes, "-<-") {
		return "", errors.New("a slot is open")
	}
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	lines := make([]string, 0, len(ranges))
	for _, r := range ranges {
		if len(r.Nodes) == 0 {
			return "", fmt.Errorf("slots %d-%d without a master", r.Start, r.End)
		}
		lines = append(lines, fmt.Sprintf("%d-%d %s", r.Start, r.End, r.Nodes[0].Addr))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n"), nil
}

// slotsOf counts the slots that s's view of the cluster gives to addr.
func slotsOf(ctx context.Context, s *Server, addr string) (int64, error) {
	c := s.Client()
	defer c.Close()
	ranges, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, r := range ranges {
		if len(r.Nodes) > 0 && r.Nodes[0].Addr == addr {
			n += int64(r.End - r.Start + 1)
		}
	}
	return n, nil
}
