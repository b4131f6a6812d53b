package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/rediscluster"
	"github.com/shardsession/shardsession/session"
)

// The stores the harness compares, by name.
const (
	// None is no store at all: the same handler and requests without the
	// session middleware, the limit no session store can beat.
	None = "none"
	// Ring is the baseline, RingStore.
	Ring = "ring"
	// Rueidis is RueidisStore: rueidis DoCache loads, DoMulti saves.
	Rueidis = "rueidis"
	// Cluster is shardsession's cluster.Cluster, saves auto-pipelined.
	Cluster = "shardsession"
	// Unbatched is the Cluster with Options.Unbatched: a round trip per save
	// and per load.
	Unbatched = "shardsession-unbatched"
	// NearCache is the Cluster behind its cluster.NearCache.
	NearCache = "shardsession+nearcache"

	// On a Redis Cluster (OpenRedisClusterStores):

	// ClusterClient is the baseline there: the RingStore's commands on
	// go-redis's ClusterClient (NewClusterClientStore).
	ClusterClient = "clusterclient"
	// RueidisCluster is RueidisStore on rueidis's cluster client.
	RueidisCluster = "rueidis-cluster"
	// RedisCluster is shardsession's rediscluster.Cluster.
	RedisCluster = "shardsession-rediscluster"
	// RedisClusterNearCache is the rediscluster.Cluster behind its
	// rediscluster.NearCache.
	RedisClusterNearCache = "shardsession-rediscluster+nearcache"
)

// StoreNames lists every store the harness knows: the limit, the
// baseline, then the others.
var StoreNames = []string{None, Ring, Rueidis, Cluster, Unbatched, NearCache}

// RedisClusterStoreNames lists the stores the harness compares on a Redis
// Cluster: the limit, the baseline, then the others.
var RedisClusterStoreNames = []string{None, ClusterClient, RueidisCluster, RedisCluster, RedisClusterNearCache}

// Baseline returns the store the others are compared with among names:
// ClusterClient on a Redis Cluster, else Ring.
func Baseline(names []string) string {
	if slices.Contains(names, ClusterClient) {
		return ClusterClient
	}
	return Ring
}

// Stores are session stores open over the same shards, each under its own
// key prefix so that they never see each other's sessions.
type Stores struct {
	names   []string
	byName  map[string]session.Store
	closers []func() error
}

// OpenStores opens the named stores over base.Shards, which must have
// static addresses. The shardsession stores are clusters made from base
// (read policy, durability...) with their own key prefixes; the peers use
// the primaries. The near cache is ready (its invalidation streams up)
// when OpenStores returns.
func OpenStores(ctx context.Context, base cluster.Options, names []string) (*Stores, error) {
	s := &Stores{byName: map[string]session.Store{}}
	addrs := map[string]string{}
	var list []string
	for _, so := range base.Shards {
		if so.Addr == "" {
			return nil, fmt.Errorf("bench: shard %s has no static address", so.Name)
		}
		addrs[so.Name] = so.Addr
		list = append(list, so.Addr)
	}
	for _, name := range names {
		if err := s.open(ctx, name, base, addrs, list); err != nil {
			s.Close()
			return nil, err
		}
		s.names = append(s.names, name)
	}
	return s, nil
}

func (s *Stores) open(ctx context.Context, name string, base cluster.Options, addrs map[string]string, list []string) error {
	newCluster := func(prefix string, unbatched bool) (*cluster.Cluster, error) {
		opt := base
		opt.KeyPrefix, opt.Unbatched = prefix, unbatched
		c, err := cluster.New(opt)
		if err == nil {
			s.closers = append(s.closers, c.Close)
		}
		return c, err
	}
	switch name {
	case None:
		s.byName[name] = nil
	case Ring:
		r := NewRingStore(addrs)
		s.closers = append(s.closers, r.Close)
		s.byName[name] = r
	case Rueidis:
		r, err := NewRueidisStore(list)
		if err != nil {
			return err
		}
		s.closers = append(s.closers, r.Close)
		s.byName[name] = r
	case Cluster, Unbatched:
		c, err := newCluster("bench-"+name+":", name == Unbatched)
		if err != nil {
			return err
		}
		s.byName[name] = c
	case NearCache:
		c, err := newCluster("bench-nearcache:", false)
		if err != nil {
			return err
		}
		nc, err := cluster.NewNearCache(c, cluster.NearCacheOptions{})
		if err != nil {
			return err
		}
		// Closed before its cluster: closers run in reverse.
		s.closers = append(s.closers, nc.Close)
		if err := nc.Ready(ctx); err != nil {
			return err
		}
		s.byName[name] = nc
	default:
		return fmt.Errorf("bench: unknown store %q (known: %v)", name, StoreNames)
	}
	return nil
}

// OpenRedisClusterStores opens the named stores (RedisClusterStoreNames)
// over the Redis Cluster that seeds belong to, each under its own key
// prefix.
func OpenRedisClusterStores(ctx context.Context, seeds []string, names []string) (*Stores, error) {
	s := &Stores{byName: map[string]session.Store{}}
	for _, name := range names {
		switch name {
		case None:
			s.byName[name] = nil
		case ClusterClient:
			r := NewClusterClientStore(seeds)
			s.closers = append(s.closers, r.Close)
			s.byName[name] = r
		case RueidisCluster:
			r, err := NewRueidisClusterStore(seeds)
			if err != nil {
				s.Close()
				return nil, err
			}
			s.closers = append(s.closers, r.Close)
			s.byName[name] = r
		case RedisCluster, RedisClusterNearCache:
			c, err := rediscluster.New(rediscluster.Options{Addrs: seeds, KeyPrefix: "bench-" + name + ":"})
			if err != nil {
				s.Close()
				return nil, err
			}
			s.closers = append(s.closers, c.Close)
			s.byName[name] = c
			if name == RedisCluster {
				break
			}
			nc, err := rediscluster.NewNearCache(c, rediscluster.NearCacheOptions{})
			if err != nil {
				s.Close()
				return nil, err
			}
			// Closed before its cluster: closers run in reverse.
			s.closers = append(s.closers, nc.Close)
			if err := nc.Ready(ctx); err != nil {
				s.Close()
				return nil, err
			}
			s.byName[name] = nc
		default:
			s.Close()
			return nil, fmt.Errorf("bench: unknown store %q on a Redis Cluster (known: %v)", name, RedisClusterStoreNames)
		}
		s.names = append(s.names, name)
	}
	return s, nil
}

// Names returns the open stores' names, in the order asked for.
func (s *Stores) Names() []string { return slices.Clone(s.names) }

// Get returns the store called name, or nil (for None too).
func (s *Stores) Get(name string) session.Store { return s.byName[name] }

// Close closes every store, the last opened first.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
