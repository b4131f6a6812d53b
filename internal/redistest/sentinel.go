package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// sentinelStartTimeout bounds how long StartSentinel waits for a sentinel
// to answer.
const sentinelStartTimeout = 15 * time.Second

// Monitor is one primary a sentinel watches.
type Monitor struct {
	// Name is the master name, e.g. the shard name "s0".
	Name string
	// Addr is the primary's "127.0.0.1:port".
	Addr string
}

// SentinelOptions configures one redis-sentinel process.
type SentinelOptions struct {
	// Dir is the working directory; it holds sentinel.conf (which the
	// sentinel rewrites) and sentinel.log. Default "": a new temporary
	// directory, removed on Close.
	Dir string
	// Monitors are the primaries to watch; at least one is required.
	Monitors []Monitor
	// DownAfter is down-after-milliseconds. Default 1 s (Sentinel's own
	// default of 30 s is far too slow for tests).
	DownAfter time.Duration
	// FailoverTimeout is failover-timeout. Default 3 s.
	FailoverTimeout time.Duration
	// Quorum is the number of sentinels that must agree a primary is down.
	// Default 1.
	Quorum int
	// Name labels the sentinel in errors. Default "sentinel".
	Name string
	// TLS, when set, makes the sentinel TLS-only (tls-port, port 0),
	// reaching the monitored servers over TLS (tls-replication yes) and
	// requiring client certificates; the servers must use the same TLS.
	// Default nil: plain TCP.
	TLS *TLS
}

// init applies the defaults.
func (o *SentinelOptions) init() {
	if o.DownAfter <= 0 {
		o.DownAfter = time.Second
	}
	if o.FailoverTimeout <= 0 {
		o.FailoverTimeout = 3 * time.Second
	}
	if o.Quorum <= 0 {
		o.Quorum = 1
	}
	if o.Name == "" {
		o.Name = "sentinel"
	}
}

// Sentinel is one redis-sentinel process on 127.0.0.1. All methods are
// safe for concurrent use.
type Sentinel struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// Dir is the working directory; it holds sentinel.conf and
	// sentinel.log.
	Dir string
	// Name is the label from SentinelOptions.Name.
	Name string

	opt  SentinelOptions
	addr string
	n    *node
}

// StartSentinel starts a redis-sentinel on a free loopback port and waits
// until it answers PING and SENTINEL GET-MASTER-ADDR-BY-NAME for every
// monitor (at most about 15 s). It does not wait for sentinels to
// discover each other; [Topology] does that.
func StartSentinel(ctx context.Context, opt SentinelOptions) (*Sentinel, error) {
	opt.init()
	opt.Monitors = append([]Monitor(nil), opt.Monitors...)
	if len(opt.Monitors) == 0 {
		return nil, fmt.Errorf("redistest: start %s: no monitors", opt.Name)
	}
	for _, m := range opt.Monitors {
		if _, _, err := net.SplitHostPort(m.Addr); err != nil || m.Name == "" {
			return nil, fmt.Errorf("redistest: start %s: bad monitor %q %q", opt.Name, m.Name, m.Addr)
		}
	}
	bin, err := lookBin(sentinelBin)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{Name: opt.Name, opt: opt}
	n := &node{kind: sentinelBin, name: opt.Name, bin: bin}
	if opt.TLS != nil {
		n.tls = opt.TLS.ClientConfig()
	}
	if err := n.prepareDir(opt.Dir); err != nil {
		return nil, err
	}
	n.logPath = filepath.Join(n.dir, "sentinel.log")
	conf := filepath.Join(n.dir, "sentinel.conf")
	started := false // guarded by n.mu; after the first start, keep the rewritten conf
	n.args = func(port int) ([]string, error) {
		if started {
			return []string{conf}, nil
		}
		if err := os.WriteFile(conf, []byte(sentinelConfig(port, n.dir, n.logPath, opt)), 0o644); err != nil {
			return nil, err
		}
		return []string{conf}, nil
	}
	n.ready = func(ctx context.Context) error {
		c := redis.NewSentinelClient(&redis.Options{Addr: n.addr(), DisableIdentity: true, MaxRetries: -1, TLSConfig: n.tls})
		defer c.Close()
		return poll(ctx, func(ctx context.Context) error {
			for _, m := range opt.Monitors {
				if _, err := c.GetMasterAddrByName(ctx, m.Name).Result(); err != nil {
					return fmt.Errorf("get-master-addr-by-name %s: %w", m.Name, err)
				}
			}
			return nil
		})
	}
	s.n = n
	ctx, cancel := context.WithTimeout(ctx, sentinelStartTimeout)
	defer cancel()
	n.mu.Lock()
	err = n.launchLocked(ctx, false)
	started = err == nil
	n.mu.Unlock()
	if err != nil {
		_ = n.close()
		return nil, err
	}
	s.Port, s.Dir, s.addr = n.port, n.dir, n.addr()
	return s, nil
}

// sentinelConfig renders sentinel.conf for a start on port.
func sentinelConfig(port int, dir, logPath string, opt SentinelOptions) string {
	var b strings.Builder
	if opt.TLS != nil {
		b.WriteString(opt.TLS.sentinelConfig(port))
	} else {
		fmt.Fprintf(&b, "port %d\n", port)
	}
	b.WriteString("bind 127.0.0.1\nprotected-mode no\ndaemonize no\n")
	fmt.Fprintf(&b, "dir %q\nlogfile %q\n", dir, logPath)
	b.WriteString("sentinel resolve-hostnames no\n")
	for _, m := range opt.Monitors {
		host, p, _ := net.SplitHostPort(m.Addr)
		fmt.Fprintf(&b, "sentinel monitor %s %s %s %d\n", m.Name, host, p, opt.Quorum)
		fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", m.Name, opt.DownAfter.Milliseconds())
		fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", m.Name, opt.FailoverTimeout.Milliseconds())
		fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", m.Name)
	}
	return b.String()
}

// Addr returns "127.0.0.1:port".
func (s *Sentinel) Addr() string { return s.addr }

// Close stops the sentinel with SIGTERM, then SIGKILL after 2 s, waits for
// it to exit and removes its dir if StartSentinel created it. It is
// idempotent.
func (s *Sentinel) Close() error { return s.n.close() }

// Kill stops the sentinel with SIGKILL and waits for it to exit; the dir
// (with the rewritten sentinel.conf) stays, so Restart can bring it back.
func (s *Sentinel) Kill() error { return s.n.kill() }

// Pause freezes the sentinel with SIGSTOP.
func (s *Sentinel) Pause() error { return s.n.pause() }

// Resume continues a paused sentinel with SIGCONT. It is a no-op if the
// sentinel is not running.
func (s *Sentinel) Resume() error { return s.n.resume() }

// Running reports whether the sentinel process is alive.
func (s *Sentinel) Running() bool { return s.n.running() }

// Restart starts the sentinel again on the same port and dir, after Kill,
// from the sentinel.conf it rewrote while running, so it keeps what it
// learned (current primaries, epochs, other sentinels).
func (s *Sentinel) Restart(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, sentinelStartTimeout)
	defer cancel()
	return s.n.restart(ctx)
}

// Client returns a new go-redis sentinel client for this sentinel; the
// caller closes it.
func (s *Sentinel) Client() *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: s.addr, DisableIdentity: true, TLSConfig: s.n.tls})
}

// MasterAddr returns what this sentinel reports as the address of the
// primary named name (SENTINEL GET-MASTER-ADDR-BY-NAME).
func (s *Sentinel) MasterAddr(ctx context.Context, name string) (string, error) {
	c := s.Client()
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, name).Result()
	if err != nil {
		return "", fmt.Errorf("redistest: %s: master addr of %s: %w", s.Name, name, err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("redistest: %s: master addr of %s: unexpected reply %q", s.Name, name, hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}
