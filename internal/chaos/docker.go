package chaos

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ory/dockertest/v3"
	docker "github.com/ory/dockertest/v3/docker"
	"github.com/redis/go-redis/v9"
	"github.com/shardsession/shardsession/internal/redistest"
)

// ErrNoDocker is returned by StartDocker when no Docker engine answers.
var ErrNoDocker = errors.New("chaos: no Docker engine answers")

// label marks every container and network this package creates, so that
// leftovers of a killed test run can be found and removed.
const label = "shardsession-chaos"

// dockerEnv is an Env of containers on a private network with fixed
// addresses, so that a disconnected node comes back with its address.
type dockerEnv struct {
	sentinelOps
	pool      *dockertest.Pool
	network   *docker.Network
	downAfter time.Duration
	shards    []string
	primaries map[string]*container
	replicas  map[string][]*container
	sentinels []*container
	// nodes are data nodes not listed by shard: a Redis Cluster's, whose
	// roles the cluster assigns.
	nodes []*container
}

// StartDocker starts an Env of containers: redis-server and redis-sentinel
// (the same binary, built into a local image by ensureImage) on a new
// bridge network whose addresses this host can reach. It returns an error
// wrapping ErrNoDocker when the engine does not answer.
func StartDocker(ctx context.Context, opt Options) (Env, error) {
	opt.init()
	e, tag, subnet, err := newDockerEnv(ctx, opt)
	if err != nil {
		return nil, err
	}
	e.sentinelOps = sentinelOps{e}
	ok := false
	defer func() {
		if !ok {
			e.Close()
		}
	}()
	ip := func(host int) string { return subnet + "." + strconv.Itoa(host) }
	run := func(name, addr string, args ...string) (*container, error) {
		return e.run(ctx, tag, name, addr, args)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, opt.Shards)
	for i := range opt.Shards {
		name := "s" + strconv.Itoa(i)
		e.shards = append(e.shards, name)
		wg.Go(func() {
			p, err := run(name+"-primary", ip(10+10*i), dockerServerArgs...)
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			e.primaries[name] = p
			mu.Unlock()
			for j := range opt.Replicas {
				r, err := run(fmt.Sprintf("%s-replica%d", name, j), ip(11+10*i+j), append(dockerServerArgs, "--replicaof", p.ip, "6379")...)
				if err != nil {
					errs[i] = err
					return
				}
				mu.Lock()
				e.replicas[name] = append(e.replicas[name], r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for j := range opt.Sentinels {
		s, err := run("sentinel"+strconv.Itoa(j), ip(200+j), "/etc/sentinel.conf", "--sentinel", "--port", "26379", "--protected-mode", "no")
		if err != nil {
			return nil, err
		}
		s.port = 26379
		e.sentinels = append(e.sentinels, s)
	}
	if err := e.monitor(ctx, opt); err != nil {
		return nil, err
	}
	ok = true
	return e, nil
}

// dockerServerArgs are every data node's redis-server arguments.
var dockerServerArgs = []string{"--port", "6379", "--protected-mode", "no", "--save", "", "--appendonly", "no",
	"--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"}

// newDockerEnv connects to the engine, builds the image and creates the
// network: it returns the env, the image's tag and the network's "10.231.x".
// It returns an error wrapping ErrNoDocker when the engine does not answer.
func newDockerEnv(ctx context.Context, opt Options) (*dockerEnv, string, string, error) {
	pool, err := dockertest.NewPool("")
	if err == nil {
		err = pool.Client.PingWithContext(ctx)
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("%w: %v", ErrNoDocker, err)
	}
	removeStale(pool)
	tag, err := ensureImage(pool)
	if err != nil {
		return nil, "", "", err
	}
	e := &dockerEnv{pool: pool, downAfter: opt.DownAfter, primaries: map[string]*container{}, replicas: map[string][]*container{}}
	subnet, err := e.createNetwork()
	if err != nil {
		return nil, "", "", err
	}
	return e, tag, subnet, nil
}

// removeStale removes containers and networks of earlier runs that are
// older than ten minutes (a test binary killed before its cleanup). Age,
// not emptiness, tells a network left behind: the engine's list shows no
// network's containers, and a network another scenario running in parallel
// has just created has none yet (removing it failed that scenario's first
// container with "network not found").
func removeStale(pool *dockertest.Pool) {
	old := time.Now().Add(-10 * time.Minute).Unix()
	cs, _ := pool.Client.ListContainers(docker.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label}}})
	for _, c := range cs {
		if c.Created < old {
			pool.Client.RemoveContainer(docker.RemoveContainerOptions{ID: c.ID, Force: true})
		}
	}
	ns, _ := pool.Client.FilteredListNetworks(docker.NetworkFilterOpts{"label": {label: true}})
	for _, n := range ns {
		created, err := strconv.ParseInt(n.Labels[createdLabel], 10, 64)
		if strings.HasPrefix(n.Name, label) && (err != nil || created < old) {
			pool.Client.RemoveNetwork(n.ID) // refused while containers use it
		}
	}
}

// createdLabel holds, on a network, when it was created (unix seconds).
const createdLabel = label + ".created"

// createNetwork creates a bridge network on a random 10.231.x.0/24 subnet
// (retrying on overlap) and returns "10.231.x".
func (e *dockerEnv) createNetwork() (string, error) {
	var last error
	for range 10 {
		n, _ := rand.Int(rand.Reader, big.NewInt(250))
		subnet := "10.231." + strconv.Itoa(int(n.Int64())+1)
		nw, err := e.pool.Client.CreateNetwork(docker.CreateNetworkOptions{
			Name:   label + "-" + strings.ReplaceAll(subnet, ".", "-"),
			Driver: "bridge",
			IPAM:   &docker.IPAMOptions{Config: []docker.IPAMConfig{{Subnet: subnet + ".0/24"}}},
			Labels: map[string]string{label: "1", createdLabel: strconv.FormatInt(time.Now().Unix(), 10)},
		})
		if err == nil {
			e.network = nw
			return subnet, nil
		}
		last = err
	}
	return "", fmt.Errorf("chaos: create network: %w", last)
}

// run creates and starts a container with a fixed address and waits until
// it answers PING.
func (e *dockerEnv) run(ctx context.Context, image, name, ip string, args []string) (*container, error) {
	c, err := e.pool.Client.CreateContainer(docker.CreateContainerOptions{
		Name:   e.network.Name + "-" + name,
		Config: &docker.Config{Image: image, Cmd: args, Labels: map[string]string{label: "1"}},
		NetworkingConfig: &docker.NetworkingConfig{EndpointsConfig: map[string]*docker.EndpointConfig{
			e.network.Name: {IPAMConfig: &docker.EndpointIPAMConfig{IPv4Address: ip}},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: create %s: %w", name, err)
	}
	ct := &container{env: e, id: c.ID, name: name, ip: ip, port: 6379}
	if err := e.pool.Client.StartContainer(c.ID, nil); err != nil {
		e.pool.Client.RemoveContainer(docker.RemoveContainerOptions{ID: c.ID, Force: true})
		return nil, fmt.Errorf("chaos: start %s: %w", name, err)
	}
	port := 6379
	if strings.HasPrefix(name, "sentinel") {
		port = 26379
	}
	cl := redis.NewClient(&redis.Options{Addr: net.JoinHostPort(ip, strconv.Itoa(port)), MaxRetries: -1, DialTimeout: 500 * time.Millisecond, DisableIdentity: true})
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := redistest.Poll(pctx, func(ctx context.Context) error { return cl.Ping(ctx).Err() }); err != nil {
		return ct, fmt.Errorf("chaos: %s at %s does not answer: %w", name, ip, err)
	}
	return ct, nil
}

// monitor points every sentinel at every primary and waits until each
// sentinel sees the others and the replicas.
func (e *dockerEnv) monitor(ctx context.Context, opt Options) error {
	quorum := strconv.Itoa(opt.Sentinels/2 + 1)
	for _, s := range e.sentinels {
		c := s.Client()
		for _, name := range e.shards {
			cmds := [][]any{
				{"sentinel", "monitor", name, e.primaries[name].ip, "6379", quorum},
				{"sentinel", "set", name, "down-after-milliseconds", strconv.FormatInt(opt.DownAfter.Milliseconds(), 10)},
				{"sentinel", "set", name, "failover-timeout", strconv.FormatInt(opt.FailoverTimeout.Milliseconds(), 10)},
				{"sentinel", "set", name, "parallel-syncs", "1"},
			}
			for _, args := range cmds {
				if err := c.Do(ctx, args...).Err(); err != nil {
					c.Close()
					return fmt.Errorf("chaos: %s: %v: %w", s.name, args, err)
				}
			}
		}
		c.Close()
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, s := range e.sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr(), DisableIdentity: true, MaxRetries: -1})
		err := redistest.Poll(pctx, func(ctx context.Context) error {
			for _, name := range e.shards {
				others, err := c.Sentinels(ctx, name).Result()
				if err != nil || len(others) != len(e.sentinels)-1 {
					return fmt.Errorf("%s: %s sees %d other sentinels (%v)", s.name, name, len(others), err)
				}
				reps, err := c.Replicas(ctx, name).Result()
				healthy := 0
				for _, r := range reps {
					if r["flags"] == "slave" && r["master-link-status"] == "ok" {
						healthy++
					}
				}
				if err != nil || healthy != len(e.replicas[name]) {
					return fmt.Errorf("%s: %s sees %d healthy replicas (%v)", s.name, name, healthy, err)
				}
			}
			return nil
		})
		c.Close()
		if err != nil {
			return fmt.Errorf("chaos: sentinels not ready: %w", err)
		}
	}
	return nil
}

func (e *dockerEnv) Kind() string             { return "docker" }
func (e *dockerEnv) Shards() []string         { return e.shards }
func (e *dockerEnv) DownAfter() time.Duration { return e.downAfter }
func (e *dockerEnv) Primary(shard string) Node {
	return e.primaries[shard]
}

func (e *dockerEnv) Replicas(shard string) []Node {
	var ns []Node
	for _, r := range e.replicas[shard] {
		ns = append(ns, r)
	}
	return ns
}

func (e *dockerEnv) SentinelAddrs() []string {
	addrs := make([]string, len(e.sentinels))
	for i, s := range e.sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Close removes every container, then the network.
func (e *dockerEnv) Close() error {
	var all []*container
	all = append(all, e.sentinels...)
	all = append(all, e.nodes...)
	for _, name := range e.shards {
		if p := e.primaries[name]; p != nil {
			all = append(all, p)
		}
		all = append(all, e.replicas[name]...)
	}
	var errs []error
	for _, c := range all {
		if err := e.pool.Client.RemoveContainer(docker.RemoveContainerOptions{ID: c.id, Force: true, RemoveVolumes: true}); err != nil {
			errs = append(errs, err)
		}
	}
	if e.network != nil {
		errs = append(errs, e.pool.Client.RemoveNetwork(e.network.ID))
	}
	return errors.Join(errs...)
}

// container is a Node in a container.
type container struct {
	env  *dockerEnv
	id   string
	name string
	ip   string
	port int
}

func (c *container) Addr() string { return net.JoinHostPort(c.ip, strconv.Itoa(c.port)) }

func (c *container) Kill() error {
	return c.env.pool.Client.KillContainer(docker.KillContainerOptions{ID: c.id, Signal: docker.SIGKILL})
}

func (c *container) Pause() error  { return c.env.pool.Client.PauseContainer(c.id) }
func (c *container) Resume() error { return c.env.pool.Client.UnpauseContainer(c.id) }

// Partition disconnects the container from the network: sentinels and
// clients can no longer reach it, nor it them.
func (c *container) Partition() error {
	return c.env.pool.Client.DisconnectNetwork(c.env.network.ID, docker.NetworkConnectionOptions{Container: c.id, Force: true})
}

// Heal reconnects it with the same address.
func (c *container) Heal() error {
	return c.env.pool.Client.ConnectNetwork(c.env.network.ID, docker.NetworkConnectionOptions{
		Container:      c.id,
		EndpointConfig: &docker.EndpointConfig{IPAMConfig: &docker.EndpointIPAMConfig{IPv4Address: c.ip}},
	})
}

func (c *container) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: c.Addr(), DisableIdentity: true, DialTimeout: time.Second, ReadTimeout: time.Second})
}
