package rediscluster

import (
	"context"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/shard"
)

// scanCount is the COUNT hint of each SCAN call, as in package cluster.
const scanCount = 1000

// Iterate calls fn with the ID and fields of every session stored in the
// cluster, master by master, until fn returns an error (which Iterate
// returns). It SCANs every master and loads each page of records with one
// pipeline, so memory stays bounded however many sessions there are. Keys
// of the other key spaces (user indexes, locks, adapters' records: IDs
// with a ':') are skipped, exactly as package cluster does. Like SCAN, it
// visits every session that exists for the whole iteration at least once;
// sessions created, deleted, expiring or moved to another master meanwhile
// may or may not be seen, or be seen twice.
func (c *Cluster) Iterate(ctx context.Context, fn func(id string, fields map[string]string) error) error {
	return c.iterate(ctx, "", keyspace.ValidID, fn)
}

// IteratePrefix is Iterate over the records whose ID starts with idPrefix,
// whatever their form: an adapter's key space (scs, gorilla), which Iterate
// leaves out. Keys of another type than a hash are skipped.
func (c *Cluster) IteratePrefix(ctx context.Context, idPrefix string, fn func(id string, fields map[string]string) error) error {
	return c.iterate(ctx, idPrefix, func(string) bool { return true }, fn)
}

// masters returns a client of each master in the client's slot table.
func (c *Cluster) masters(ctx context.Context) ([]*redis.Client, error) {
	var mu sync.Mutex
	var masters []*redis.Client
	err := c.client.ForEachMaster(ctx, func(_ context.Context, m *redis.Client) error {
		mu.Lock()
		masters = append(masters, m)
		mu.Unlock()
		return nil
	})
	return masters, err
}

// iterate calls fn with every hash record whose ID starts with idPrefix and
// passes keep.
func (c *Cluster) iterate(ctx context.Context, idPrefix string, keep func(id string) bool, fn func(id string, fields map[string]string) error) error {
	masters, err := c.masters(ctx)
	if err != nil {
		return wrap("", "", err)
	}
	match := keyspace.GlobEscape(c.Key(idPrefix)) + "*"
	for _, m := range masters {
		node := m.Options().Addr
		var cursor uint64
		for {
			keys, next, err := m.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return wrap(node, "", err)
			}
			for i, k := range keys {
				keys[i] = strings.TrimPrefix(k, c.prefix)
			}
			// The pipeline goes through the cluster client, which routes
			// each key by its slot, should it have moved since SCAN.
			err = keyspace.LoadHashes(ctx, c.client.Pipeline(), c.prefix, keys, keep, unavailable, func(err error) error {
				return wrap(node, "", err)
			}, fn)
			if err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// unavailable reports a reply that means the node could not serve, as
// opposed to a key of another type: shard.IsUnavailable's list and
// redirections go-redis gave up following.
func unavailable(err error) bool { return shard.IsUnavailable(err) || isRedirect(err) }
