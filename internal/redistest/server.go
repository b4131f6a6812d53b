package redistest

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// startTimeout bounds how long Start and Restart wait for a server to
// answer PING and, for a replica, to report its link to the primary up.
const startTimeout = 10 * time.Second

// Options configures one redis-server process. The zero value is a
// standalone primary without persistence in a new temporary directory.
type Options struct {
	// Dir is the working directory (RDB, AOF, redis.log). It is created if
	// missing and kept on Close. Default "": a new temporary directory,
	// removed on Close.
	Dir string
	// ReplicaOf is the "host:port" of the primary to replicate. Default
	// "": the server is a primary.
	ReplicaOf string
	// Persistence false (the default) runs with --save "" --appendonly no;
	// true runs with --appendonly yes --appendfsync everysec and redis's
	// default save points, so data survives Kill and Restart.
	Persistence bool
	// Args are extra redis-server arguments, appended last, e.g.
	// "--maxmemory-policy", "allkeys-lru".
	Args []string
	// Name labels the server in errors and in its temp dir name, e.g.
	// "s0-primary". Default "redis".
	Name string
	// ClusterNodeTimeout, when > 0, starts the server in Redis Cluster
	// mode (--cluster-enabled yes, its node table in nodes-PORT.conf in
	// Dir) with this cluster-node-timeout. Default 0: not a cluster node.
	// StartRedisCluster sets it.
	ClusterNodeTimeout time.Duration
	// TLS, when set, makes the server TLS-only: it listens with TLS on
	// Port and nothing else, replicates over TLS and requires client
	// certificates signed by TLS's CA (see NewTLS). Client and the
	// readiness checks use TLS.ClientConfig(). Default nil: plain TCP.
	TLS *TLS
}

// Server is one redis-server process on 127.0.0.1. Its port and dir stay
// the same across Kill and Restart. All methods are safe for concurrent use.
type Server struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir is the working directory; it holds redis.log.
	Dir string
	// Name is the label from Options.Name.
	Name string

	opt  Options
	addr string
	n    *node
}

// Start starts a redis-server on a free loopback port and waits until it
// answers PING; a replica is waited for until INFO replication reports
// master_link_status:up. Waiting is bounded by ctx and by about 10 s.
// If the binary is missing the error wraps [ErrNotInstalled].
func Start(ctx context.Context, opt Options) (*Server, error) {
	if opt.Name == "" {
		opt.Name = "redis"
	}
	opt.Args = append([]string(nil), opt.Args...)
	bin, err := lookBin(serverBin)
	if err != nil {
		return nil, err
	}
	var replHost, replPort string
	if opt.ReplicaOf != "" {
		if replHost, replPort, err = net.SplitHostPort(opt.ReplicaOf); err != nil {
			return nil, fmt.Errorf("redistest: start %s: replica of %q: %w", opt.Name, opt.ReplicaOf, err)
		}
	}
	s := &Server{Name: opt.Name, opt: opt}
	n := &node{kind: serverBin, name: opt.Name, bin: bin}
	if opt.TLS != nil {
		n.tls = opt.TLS.ClientConfig()
	}
	if err := n.prepareDir(opt.Dir); err != nil {
		return nil, err
	}
	n.logPath = filepath.Join(n.dir, "redis.log")
	n.args = func(port int) ([]string, error) {
		listen := []string{"--port", strconv.Itoa(port)}
		if opt.TLS != nil {
			listen = opt.TLS.serverArgs(port)
		}
		args := append(listen,
			"--bind", "127.0.0.1",
			"--dir", n.dir,
			"--daemonize", "no",
			"--protected-mode", "no",
			"--logfile", n.logPath,
			"--repl-diskless-sync", "yes",
			"--repl-diskless-sync-delay", "0",
		)
		if opt.Persistence {
			args = append(args, "--appendonly", "yes", "--appendfsync", "everysec")
		} else {
			args = append(args, "--save", "", "--appendonly", "no")
		}
		if opt.ReplicaOf != "" {
			args = append(args, "--replicaof", replHost, replPort)
		}
		if opt.ClusterNodeTimeout > 0 {
			args = append(args,
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes-"+strconv.Itoa(port)+".conf",
				"--cluster-node-timeout", strconv.FormatInt(opt.ClusterNodeTimeout.Milliseconds(), 10))
		}
		return append(args, opt.Args...), nil
	}
	if opt.ReplicaOf != "" {
		n.ready = func(ctx context.Context) error { return waitReplicaUp(ctx, n.addr(), n.tls) }
	}
	s.n = n
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	n.mu.Lock()
	err = n.launchLocked(ctx, false)
	n.mu.Unlock()
	if err != nil {
		_ = n.close() // removes the temp dir
		return nil, err
	}
	s.Port, s.Dir, s.addr = n.port, n.dir, n.addr()
	return s, nil
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Close stops the server with SIGTERM, then SIGKILL after 2 s, waits for
// it to exit and removes its dir if Start created it. It is idempotent.
func (s *Server) Close() error { return s.n.close() }

// Kill stops the server with SIGKILL and waits for it to exit. The dir
// stays, so Restart can bring it back. Killing a stopped server is a no-op.
func (s *Server) Kill() error { return s.n.kill() }

// Pause freezes the server with SIGSTOP: connections are accepted by the
// kernel but nothing is answered until Resume.
func (s *Server) Pause() error { return s.n.pause() }

// Resume continues a paused server with SIGCONT. It is a no-op if the
// server is not running.
func (s *Server) Resume() error { return s.n.resume() }

// Running reports whether the server process is alive.
func (s *Server) Running() bool { return s.n.running() }

// Pid returns the server's process ID (for a person who wants to kill it
// by hand, as the demo invites), or 0 when it is not running.
func (s *Server) Pid() int { return s.n.pid() }

// Restart starts the server again on the same port and dir with the same
// arguments, after Kill or after Close of a server whose Dir was given,
// and waits until it answers PING. It does not wait for a replica's link.
func (s *Server) Restart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return s.n.restart(ctx)
}

// Client returns a new go-redis client for this server (over TLS for a
// TLS-only server); the caller closes it.
func (s *Server) Client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: s.addr, DisableIdentity: true, TLSConfig: s.n.tls})
}

// TLSConfig returns the client TLS configuration of a TLS-only server,
// or nil.
func (s *Server) TLSConfig() *tls.Config { return s.n.tls }

// WaitReplicaUp polls INFO replication until it reports
// master_link_status:up, or ctx ends.
func (s *Server) WaitReplicaUp(ctx context.Context) error {
	if err := waitReplicaUp(ctx, s.addr, s.n.tls); err != nil {
		return fmt.Errorf("redistest: %s: wait for replica link: %w", s.Name, err)
	}
	return nil
}

// WaitReplicasOnline polls this primary's INFO replication until n
// replicas are in state online (a replica whose link is up may still be
// listed as wait_bgsave by its primary for a moment), or ctx ends.
func (s *Server) WaitReplicasOnline(ctx context.Context, n int) error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, DisableIdentity: true, MaxRetries: -1, TLSConfig: s.n.tls})
	defer c.Close()
	err := poll(ctx, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if got := strings.Count(info, ",state=online,"); got < n {
			return fmt.Errorf("%d of %d replicas online", got, n)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redistest: %s: wait for replicas: %w", s.Name, err)
	}
	return nil
}

// waitReplicaUp polls INFO replication on addr until the link is up.
func waitReplicaUp(ctx context.Context, addr string, cfg *tls.Config) error {
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1, TLSConfig: cfg})
	defer c.Close()
	return poll(ctx, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("master link not up")
		}
		return nil
	})
}
