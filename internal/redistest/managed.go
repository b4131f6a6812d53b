package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// ManagedArgs are the redis-server arguments that make a server refuse what
// managed Redis services refuse: CONFIG, MIGRATE and CLIENT renamed away.
var ManagedArgs = []string{
	"--rename-command", "CONFIG", "",
	"--rename-command", "MIGRATE", "",
	"--rename-command", "CLIENT", "",
}

// Managed is a topology that behaves as a managed Redis service does: every
// server refuses CONFIG, MIGRATE and CLIENT, there is no Sentinel, and each
// shard's primary is reached through an endpoint (a Forwarder) that
// Failover points at a promoted replica, as a provider repoints its DNS.
type Managed struct {
	*Topology
	// Endpoints are the shards' primary endpoints, by shard name.
	Endpoints map[string]*Forwarder

	mu      sync.Mutex
	primary map[string]*Server // the server behind each endpoint now
}

// StartManaged starts opt's shards (with ManagedArgs added to opt.Args,
// and no sentinels) and an endpoint in front of each primary.
func StartManaged(ctx context.Context, opt TopologyOptions) (*Managed, error) {
	if opt.Sentinels != 0 {
		return nil, errors.New("redistest: a managed topology has no sentinels")
	}
	opt.Args = slices.Concat(opt.Args, ManagedArgs)
	top, err := StartTopology(ctx, opt)
	if err != nil {
		return nil, err
	}
	m := &Managed{Topology: top, Endpoints: map[string]*Forwarder{}, primary: map[string]*Server{}}
	for _, sh := range top.Shards {
		f, err := StartForwarder(sh.Primary.Addr())
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("redistest: endpoint of %s: %w", sh.Name, err)
		}
		m.Endpoints[sh.Name], m.primary[sh.Name] = f, sh.Primary
	}
	return m, nil
}

// Primary returns the server behind shard's endpoint now.
func (m *Managed) Primary(shard string) *Server {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.primary[shard]
}

// Failover does what a provider does when shard's primary fails: it kills
// the primary, promotes a replica that is still running (REPLICAOF NO ONE),
// makes the shard's other replicas follow it, and points the endpoint at
// it, closing the connections through it. It returns a line saying what it
// did.
func (m *Managed) Failover(ctx context.Context, shard string) (string, error) {
	sh := m.Shard(shard)
	if sh == nil {
		return "", fmt.Errorf("redistest: no shard %q", shard)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.primary[shard]
	var next *Server
	for _, s := range sh.servers() {
		if s != old && s.Running() {
			next = s
			break
		}
	}
	if next == nil {
		return "", fmt.Errorf("redistest: shard %s has no running replica to promote", shard)
	}
	pid := old.Pid()
	if err := old.Kill(); err != nil {
		return "", err
	}
	if err := replicaOf(ctx, next, "NO", "ONE"); err != nil {
		return "", fmt.Errorf("redistest: promote %s: %w", next.Addr(), err)
	}
	for _, s := range sh.servers() {
		if s != old && s != next && s.Running() {
			host, port, _ := net.SplitHostPort(next.Addr())
			if err := replicaOf(ctx, s, host, port); err != nil {
				return "", fmt.Errorf("redistest: repoint replica %s: %w", s.Addr(), err)
			}
		}
	}
	m.Endpoints[shard].Repoint(next.Addr())
	m.primary[shard] = next
	return fmt.Sprintf("the primary of %s at %s (pid %d), promoted %s and pointed the endpoint %s at it",
		shard, old.Addr(), pid, next.Addr(), m.Endpoints[shard].Addr()), nil
}

// replicaOf sends REPLICAOF args to s.
func replicaOf(ctx context.Context, s *Server, args ...string) error {
	c := s.Client()
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmd := []any{"REPLICAOF"}
	for _, a := range args {
		cmd = append(cmd, a)
	}
	return c.Do(ctx, cmd...).Err()
}

// Close closes the endpoints, then the topology.
func (m *Managed) Close() error {
	var errs []error
	for _, f := range m.Endpoints {
		errs = append(errs, f.Close())
	}
	return errors.Join(append(errs, m.Topology.Close())...)
}
