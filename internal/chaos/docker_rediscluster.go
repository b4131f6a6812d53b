package chaos

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shardsession/shardsession/internal/redistest"
)

// StartDockerRedisCluster starts an Env that is a Redis Cluster of
// containers (the image and network of StartDocker): opt.Shards masters
// with opt.Replicas replicas each, cluster-node-timeout opt.DownAfter,
// joined by the host's redis-cli. Each node announces its container
// address (cluster-announce-ip), which this host reaches, so that the
// slot table the client reads names addresses it can dial. It returns an
// error wrapping ErrNoDocker when the engine does not answer.
func StartDockerRedisCluster(ctx context.Context, opt Options) (Env, error) {
	opt.init()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, fmt.Errorf("chaos: redis-cli joins the cluster: %w", err)
	}
	d, tag, subnet, err := newDockerEnv(ctx, opt)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	d.nodes = make([]*container, opt.Shards*(1+opt.Replicas))
	errs := make([]error, len(d.nodes))
	var wg sync.WaitGroup
	for i := range d.nodes {
		ip := subnet + "." + strconv.Itoa(10+i)
		args := append(append([]string(nil), dockerServerArgs...), "--cluster-enabled", "yes",
			"--cluster-node-timeout", strconv.FormatInt(opt.DownAfter.Milliseconds(), 10),
			"--cluster-announce-ip", ip, "--cluster-config-file", "nodes.conf")
		args = append(args, clusterArgs...)
		wg.Go(func() { d.nodes[i], errs[i] = d.run(ctx, tag, "node"+strconv.Itoa(i), ip, args) })
	}
	wg.Wait()
	d.nodes = compact(d.nodes) // Close removes those that started
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	nodes := make([]Node, len(d.nodes))
	addrs := make([]string, len(d.nodes))
	for i, c := range d.nodes {
		nodes[i], addrs[i] = c, c.Addr()
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(opt.Replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("chaos: redis-cli --cluster create: %w\n%s", err, out)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := redistest.Poll(wctx, func(ctx context.Context) error { return clusterReady(ctx, nodes, opt.Shards) }); err != nil {
		return nil, fmt.Errorf("chaos: docker redis cluster not ready: %w", err)
	}
	e, err := newRedisClusterEnv(ctx, "docker", opt, nodes, d.Close)
	if err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// clusterReady reports whether every node says the cluster is ok with
// every slot assigned, and the nodes are masters masters and the rest
// replicas with their links up.
func clusterReady(ctx context.Context, nodes []Node, masters int) error {
	n := 0
	for _, node := range nodes {
		c := node.Client()
		info, err := c.ClusterInfo(ctx).Result()
		var role []any
		if err == nil {
			role, err = c.Do(ctx, "ROLE").Slice()
		}
		c.Close()
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", node.Addr(), err)
		case !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384"):
			return fmt.Errorf("%s: cluster state not ok", node.Addr())
		case len(role) >= 4 && role[0] == "slave" && role[3] != "connected":
			return fmt.Errorf("%s: replica link %v", node.Addr(), role[3])
		case len(role) > 0 && role[0] == "master":
			n++
		}
	}
	if n != masters {
		return fmt.Errorf("%d masters, want %d", n, masters)
	}
	return nil
}

// compact returns cs without its nil entries.
func compact(cs []*container) []*container {
	var out []*container
	for _, c := range cs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}
