package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// sentinelsReadyTimeout bounds how long StartTopology waits for the
// sentinels to see each other and every replica healthy. A sentinel learns
// a replica's link status from the replica's INFO, which it asks every
// 10 s, so on a loaded machine (CI runs the container scenarios beside
// this) two rounds or more can pass: 15 s was seen to fall short.
const sentinelsReadyTimeout = 45 * time.Second

// Shard is one primary and its replicas. Primary is the server started as
// primary; after a failover, ask the sentinels who the primary is.
type Shard struct {
	// Name is the shard name and the sentinel master name, e.g. "s0".
	Name string
	// Primary is the server started as primary.
	Primary *Server
	// Replicas are the servers started as its replicas.
	Replicas []*Server
}

// servers returns the primary and replicas.
func (s *Shard) servers() []*Server {
	return append([]*Server{s.Primary}, s.Replicas...)
}

// TopologyOptions configures StartTopology. The zero value is three
// shards without replicas or sentinels.
type TopologyOptions struct {
	// Shards is the number of shards. Default 3.
	Shards int
	// Replicas is the number of replicas per shard. Default 0.
	Replicas int
	// Sentinels is the number of sentinels, each monitoring every shard's
	// primary under the shard name, with quorum Sentinels/2+1. Default 0:
	// no sentinels. 3 is typical.
	Sentinels int
	// DownAfter is the sentinels' down-after-milliseconds. Default 1 s.
	DownAfter time.Duration
	// FailoverTimeout is the sentinels' failover-timeout. Default 3 s.
	FailoverTimeout time.Duration
	// Persistence turns on AOF for every server; see Options.Persistence.
	Persistence bool
	// Dir is the parent directory; each process gets a subdirectory.
	// Default "": a new temporary directory, removed on Close.
	Dir string
	// Prefix is the shard name prefix. Default "s", giving s0, s1, s2.
	Prefix string
	// Args are extra redis-server arguments for every server.
	Args []string
	// TLS, when set, makes every server and sentinel TLS-only with these
	// certificates (see Options.TLS, NewTLS). Default nil: plain TCP.
	TLS *TLS
}

// init applies the defaults.
func (o *TopologyOptions) init() {
	if o.Shards <= 0 {
		o.Shards = 3
	}
	if o.Replicas < 0 {
		o.Replicas = 0
	}
	if o.Sentinels < 0 {
		o.Sentinels = 0
	}
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 3 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "s"
	}
}

// Topology is several shards, optionally watched by sentinels. Close is
// safe for concurrent use; the slices are not modified after
// StartTopology returns.
type Topology struct {
	// Shards are the shards in name order (s0, s1, ...).
	Shards []*Shard
	// Sentinels are the sentinels; empty without TopologyOptions.Sentinels.
	Sentinels []*Sentinel
	// Dir is the parent directory of all the processes' dirs.
	Dir string

	ownDir    bool
	closeOnce sync.Once
	closeErr  error
}

// StartTopology starts the shards concurrently (each primary, then its
// replicas), then the sentinels, and waits until every sentinel sees the
// other sentinels and every shard's replicas. On any error it stops what
// it started.
func StartTopology(ctx context.Context, opt TopologyOptions) (*Topology, error) {
	opt.init()
	if err := CheckInstalled(opt.Sentinels > 0); err != nil {
		return nil, err
	}
	t := &Topology{}
	if opt.Dir == "" {
		d, err := os.MkdirTemp("", "redistest-topology-")
		if err != nil {
			return nil, fmt.Errorf("redistest: start topology: %w", err)
		}
		t.Dir, t.ownDir = d, true
	} else {
		t.Dir = opt.Dir
	}
	t.Shards = make([]*Shard, opt.Shards)
	errs := make([]error, opt.Shards)
	var wg sync.WaitGroup
	for i := range opt.Shards {
		name := opt.Prefix + strconv.Itoa(i)
		t.Shards[i] = &Shard{Name: name}
		wg.Go(func() { errs[i] = t.startShard(ctx, t.Shards[i], opt) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		_ = t.Close()
		return nil, fmt.Errorf("redistest: start topology: %w", err)
	}
	if opt.Sentinels > 0 {
		if err := t.startSentinels(ctx, opt); err != nil {
			_ = t.Close()
			return nil, fmt.Errorf("redistest: start topology: %w", err)
		}
	}
	return t, nil
}

// startShard starts sh's primary, then its replicas concurrently.
func (t *Topology) startShard(ctx context.Context, sh *Shard, opt TopologyOptions) error {
	p, err := Start(ctx, Options{
		Dir:         filepath.Join(t.Dir, sh.Name+"-primary"),
		Persistence: opt.Persistence,
		Args:        opt.Args,
		Name:        sh.Name + "-primary",
		TLS:         opt.TLS,
	})
	if err != nil {
		return err
	}
	sh.Primary = p
	replicas := make([]*Server, opt.Replicas)
	errs := make([]error, opt.Replicas)
	var wg sync.WaitGroup
	for i := range opt.Replicas {
		name := sh.Name + "-replica" + strconv.Itoa(i)
		wg.Go(func() {
			replicas[i], errs[i] = Start(ctx, Options{
				Dir:         filepath.Join(t.Dir, name),
				ReplicaOf:   p.Addr(),
				Persistence: opt.Persistence,
				Args:        opt.Args,
				Name:        name,
				TLS:         opt.TLS,
			})
		})
	}
	wg.Wait()
	for _, r := range replicas {
		if r != nil {
			sh.Replicas = append(sh.Replicas, r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return waitStreaming(ctx, sh.Name, sh.Primary, sh.Replicas, streamCheckKey)
}

// streamCheckKey is the key waitStreaming writes, and deletes.
const streamCheckKey = "redistest:stream-check"

// waitStreaming waits until each of replicas applies what primary writes
// (key, set and deleted). A replica's link is up once it has loaded the
// primary's snapshot, but after a diskless one the primary streams writes
// to it only from the replica's next acknowledgement, up to a second later:
// a failover in that second would promote a replica without them, and lose
// every write since the start. name says whose replicas, in errors.
func waitStreaming(ctx context.Context, name string, primary *Server, replicas []*Server, key string) error {
	if len(replicas) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	p := primary.Client()
	defer p.Close()
	defer p.Del(context.WithoutCancel(ctx), key)
	if err := p.Set(ctx, key, "1", time.Minute).Err(); err != nil {
		return fmt.Errorf("redistest: %s: %w", name, err)
	}
	for _, r := range replicas {
		c := r.Client()
		err := poll(ctx, func(ctx context.Context) error {
			// A cluster replica answers for its master's slots only in
			// READONLY mode; elsewhere READONLY is refused, harmlessly.
			c.ReadOnly(ctx)
			n, err := c.Exists(ctx, key).Result()
			if err == nil && n == 0 {
				err = errors.New("the primary's writes have not reached it yet")
			}
			return err
		})
		c.Close()
		if err != nil {
			return fmt.Errorf("redistest: replica %s of %s: %w", r.Addr(), name, err)
		}
	}
	return nil
}

// startSentinels starts the sentinels concurrently and waits until they
// know each other and the replicas.
func (t *Topology) startSentinels(ctx context.Context, opt TopologyOptions) error {
	monitors := make([]Monitor, len(t.Shards))
	for i, sh := range t.Shards {
		monitors[i] = Monitor{Name: sh.Name, Addr: sh.Primary.Addr()}
	}
	sentinels := make([]*Sentinel, opt.Sentinels)
	errs := make([]error, opt.Sentinels)
	var wg sync.WaitGroup
	for i := range opt.Sentinels {
		name := "sentinel" + strconv.Itoa(i)
		wg.Go(func() {
			sentinels[i], errs[i] = StartSentinel(ctx, SentinelOptions{
				Dir:             filepath.Join(t.Dir, name),
				Monitors:        monitors,
				DownAfter:       opt.DownAfter,
				FailoverTimeout: opt.FailoverTimeout,
				Quorum:          opt.Sentinels/2 + 1,
				Name:            name,
				TLS:             opt.TLS,
			})
		})
	}
	wg.Wait()
	for _, s := range sentinels {
		if s != nil {
			t.Sentinels = append(t.Sentinels, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, sentinelsReadyTimeout)
	defer cancel()
	return t.WaitSentinels(ctx)
}

// WaitSentinels polls until every sentinel reports, for every shard, the
// other sentinels (SENTINEL SENTINELS) and as many healthy replicas as
// the shard has (SENTINEL REPLICAS). Sentinels meet through hello
// messages sent every 2 s, so this takes a few seconds after a start.
func (t *Topology) WaitSentinels(ctx context.Context) error {
	for _, s := range t.Sentinels {
		c := s.Client()
		err := poll(ctx, func(ctx context.Context) error {
			for _, sh := range t.Shards {
				others, err := c.Sentinels(ctx, sh.Name).Result()
				if err != nil {
					return fmt.Errorf("sentinels %s: %w", sh.Name, err)
				}
				if len(others) != len(t.Sentinels)-1 {
					return fmt.Errorf("%s: sees %d other sentinels, want %d", sh.Name, len(others), len(t.Sentinels)-1)
				}
				reps, err := c.Replicas(ctx, sh.Name).Result()
				if err != nil {
					return fmt.Errorf("replicas %s: %w", sh.Name, err)
				}
				healthy := 0
				for _, r := range reps {
					if r["flags"] == "slave" && r["master-link-status"] == "ok" {
						healthy++
					}
				}
				if healthy != len(sh.Replicas) {
					return fmt.Errorf("%s: sees %d healthy replicas, want %d", sh.Name, healthy, len(sh.Replicas))
				}
			}
			return nil
		})
		c.Close()
		if err != nil {
			return fmt.Errorf("redistest: %s: wait for discovery: %w", s.Name, err)
		}
	}
	return nil
}

// Shard returns the shard named name, or nil.
func (t *Topology) Shard(name string) *Shard {
	for _, sh := range t.Shards {
		if sh.Name == name {
			return sh
		}
	}
	return nil
}

// PrimaryAddrs returns the address of each shard's primary as started, in
// shard order. After a failover, ask the sentinels instead.
func (t *Topology) PrimaryAddrs() []string {
	addrs := make([]string, len(t.Shards))
	for i, sh := range t.Shards {
		addrs[i] = sh.Primary.Addr()
	}
	return addrs
}

// CurrentPrimary returns the server the first sentinel names as the
// primary of shard now: after a failover, one of the servers started as
// its replicas.
func (t *Topology) CurrentPrimary(ctx context.Context, shard string) (*Server, error) {
	sh := t.Shard(shard)
	if sh == nil || len(t.Sentinels) == 0 {
		return nil, fmt.Errorf("redistest: no shard %q watched by sentinels", shard)
	}
	addr, err := t.Sentinels[0].MasterAddr(ctx, shard)
	if err != nil {
		return nil, err
	}
	for _, s := range sh.servers() {
		if s.Addr() == addr {
			return s, nil
		}
	}
	return nil, fmt.Errorf("redistest: the sentinels name %s as the primary of %s, not a server of this topology", addr, shard)
}

// SentinelAddrs returns the sentinels' addresses.
func (t *Topology) SentinelAddrs() []string {
	addrs := make([]string, len(t.Sentinels))
	for i, s := range t.Sentinels {
		addrs[i] = s.Addr()
	}
	return addrs
}

// Close stops the sentinels first (so they start no failover), then all
// servers concurrently, and removes the topology dir if StartTopology
// created it. It is idempotent.
func (t *Topology) Close() error {
	t.closeOnce.Do(func() {
		var mu sync.Mutex
		var errs []error
		closeAll := func(closers []func() error) {
			var wg sync.WaitGroup
			for _, c := range closers {
				wg.Go(func() {
					if err := c(); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
		}
		var sentinels, servers []func() error
		for _, s := range t.Sentinels {
			sentinels = append(sentinels, s.Close)
		}
		for _, sh := range t.Shards {
			for _, s := range sh.servers() {
				if s != nil {
					servers = append(servers, s.Close)
				}
			}
		}
		closeAll(sentinels)
		closeAll(servers)
		if t.ownDir {
			if err := os.RemoveAll(t.Dir); err != nil {
				errs = append(errs, fmt.Errorf("redistest: close topology: %w", err))
			}
		}
		t.closeErr = errors.Join(errs...)
	})
	return t.closeErr
}
