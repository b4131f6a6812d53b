package fleet

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/metrics"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/session"
)

// Options configure a Fleet.
type Options struct {
	// Cluster describes the shards; every node builds its own Cluster from
	// it, as separate processes would.
	Cluster cluster.Options

	// RedisCluster, when set, makes every node keep its sessions in this
	// Redis Cluster (package rediscluster) instead of Cluster's shards.
	RedisCluster *rediscluster.Options

	// Nodes is the number of web nodes. Default 3.
	Nodes int

	// Addr is the proxy's listen address. Default "127.0.0.1:0" (any port).
	Addr string

	// SigningKey signs the version in every node's session tokens, so that
	// nodes reading from replicas still see each user's own last write
	// (session.Manager.SigningKeys). Like any fleet, all nodes share it.
	// Default: a random key made by Start.
	SigningKey []byte

	// Manager, if set, adjusts each node's Manager after its defaults are
	// applied (for example timeouts).
	Manager func(*session.Manager)

	// Metrics, if set, gets one metrics.Collector per node (labelled
	// web_node) and is served at the proxy's /metrics. Default nil: no
	// metrics.
	Metrics *prometheus.Registry

	// NearCache gives every node a near cache: sessions it has
	// read are served from its memory until another node changes them.
	NearCache bool

	// Follow makes every node follow the fleet's topology record
	// (cluster.Follow), polling it every FollowInterval, so that
	// `shardsession reshard` can add and remove shards while the nodes
	// serve. Ignored with RedisCluster.
	Follow bool

	// Sticky makes the proxy send every request that carries a session
	// cookie to the node its cookie hashes to, as a balancer with sticky
	// sessions by cookie does, so that a node's near cache keeps serving
	// the same users; requests without a cookie, and every request when
	// Sticky is false, go to the nodes in turn.
	Sticky bool
}

// Fleet is web nodes on loopback ports behind a round-robin reverse proxy.
type Fleet struct {
	// URL is the proxy's address: the one URL users visit.
	URL string
	// Nodes are the web nodes' URLs, in order.
	Nodes []string
	// Sticky says the proxy keeps each session cookie on one node.
	Sticky bool

	servers []*http.Server
	closers []io.Closer // the nodes' stores, in the order to close them
}

// FollowInterval is how often a node of a fleet with Options.Follow polls
// the topology record: short, so that a demo's reshard moves through its
// phases in seconds (each waits for every node to acknowledge it).
const FollowInterval = 250 * time.Millisecond

// CookieName is the session cookie's name in the demo, which serves plain
// HTTP on loopback and so cannot use a __Host- (Secure) cookie.
const CookieName = "shardsession"

// Start starts the nodes and the proxy. Close stops them.
func Start(opt Options) (*Fleet, error) {
	if opt.Nodes <= 0 {
		opt.Nodes = 3
	}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	if opt.SigningKey == nil {
		opt.SigningKey = make([]byte, 32)
		rand.Read(opt.SigningKey) // never fails: crypto/rand aborts the program if it cannot read
	}
	f := &Fleet{Sticky: opt.Sticky}
	var backends []*url.URL
	for i := range opt.Nodes {
		name := fmt.Sprintf("web-%d", i+1)
		st, err := f.newStore(opt, name)
		if err != nil {
			f.Close()
			return nil, err
		}
		m := session.New(st)
		m.Cookie.Name, m.Cookie.Secure = CookieName, false
		m.SigningKeys = [][]byte{opt.SigningKey}
		if opt.Manager != nil {
			opt.Manager(m)
		}
		u, err := f.serve("127.0.0.1:0", App(m, name))
		if err != nil {
			f.Close()
			return nil, err
		}
		f.Nodes = append(f.Nodes, u.String())
		backends = append(backends, u)
	}
	var front http.Handler = proxy(backends, opt.Sticky)
	if opt.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("/", front)
		mux.Handle("GET /metrics", promhttp.HandlerFor(opt.Metrics, promhttp.HandlerOpts{}))
		front = mux
	}
	u, err := f.serve(opt.Addr, front)
	if err != nil {
		f.Close()
		return nil, err
	}
	f.URL = u.String()
	return f, nil
}

// newStore builds node's session store: a rediscluster.Cluster or a
// Cluster (each behind its NearCache with opt.NearCache), with a metrics
// Collector when opt.Metrics is set.
func (f *Fleet) newStore(opt Options, node string) (session.Store, error) {
	if opt.RedisCluster != nil {
		rc, err := rediscluster.New(*opt.RedisCluster)
		if err != nil {
			return nil, err
		}
		f.closers = append(f.closers, rc)
		if !opt.NearCache {
			return rc, nil
		}
		nc, err := rediscluster.NewNearCache(rc, rediscluster.NearCacheOptions{})
		if err != nil {
			return nil, err
		}
		f.closers = append(f.closers, nc)
		return nc, nil
	}
	var col *metrics.Collector
	copt := opt.Cluster
	if opt.Metrics != nil {
		col = metrics.New(metrics.Options{ConstLabels: prometheus.Labels{"web_node": node}})
		copt.Observer = col
	}
	c, err := cluster.New(copt)
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, c)
	if opt.Follow {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fl, err := c.Follow(ctx, cluster.FollowOptions{Node: node, Interval: FollowInterval, StableInterval: FollowInterval,
			OnError: func(err error) { slog.Warn("fleet: topology poll failed", "node", node, "err", err) }})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("fleet: %s follows the topology: %w", node, err)
		}
		f.closers = append(f.closers, fl)
	}
	if col != nil {
		col.Watch(c)
		if err := opt.Metrics.Register(col); err != nil {
			return nil, fmt.Errorf("fleet: metrics of %s: %w", node, err)
		}
	}
	if !opt.NearCache {
		return c, nil
	}
	nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, nc)
	if col != nil {
		col.WatchNearCache(nc)
	}
	return nc, nil
}

// serve starts an HTTP server for h on addr and returns its URL.
func (f *Fleet) serve(addr string, h http.Handler) (*url.URL, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fleet: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	f.servers = append(f.servers, srv)
	go srv.Serve(l)
	return &url.URL{Scheme: "http", Host: l.Addr().String()}, nil
}

// proxy is a reverse proxy sending each request to the next backend, as
// a load balancer without sticky sessions would, or with sticky, each
// request with a session cookie to the backend the cookie hashes to.
func proxy(backends []*url.URL, sticky bool) http.Handler {
	var next atomic.Uint64
	seed := maphash.MakeSeed()
	return &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := next.Add(1) - 1
		if c, err := r.In.Cookie(CookieName); sticky && err == nil {
			i = maphash.String(seed, c.Value)
		}
		r.SetURL(backends[i%uint64(len(backends))])
		r.SetXForwarded()
	}}
}

// Close stops the proxy and the nodes and closes their clusters.
func (f *Fleet) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, s := range f.servers {
		errs = append(errs, s.Shutdown(ctx))
	}
	for i := len(f.closers) - 1; i >= 0; i-- { // a near cache before its cluster
		errs = append(errs, f.closers[i].Close())
	}
	return errors.Join(errs...)
}
