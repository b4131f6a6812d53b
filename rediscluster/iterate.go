package rediscluster

import (
	"context"
	"errors"
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
			if err := c.loadPage(ctx, node, keys, keep, fn); err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// loadPage loads the records of one SCAN page with one pipeline (which the
// client routes by slot) and calls fn with each hash record that is there.
func (c *Cluster) loadPage(ctx context.Context, node string, keys []string, keep func(id string) bool, fn func(id string, fields map[string]string) error) error {
	p := c.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, 0, len(keys))
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if id := strings.TrimPrefix(k, c.prefix); keep(id) {
			ids = append(ids, id)
			cmds = append(cmds, p.HGetAll(ctx, k))
		}
	}
	if len(cmds) == 0 {
		return nil
	}
	_, _ = p.Exec(ctx) // errors are looked at per command
	for i, cmd := range cmds {
		fields, err := cmd.Result()
		var rerr redis.Error
		switch {
		case err != nil && errors.As(err, &rerr) && !shard.IsUnavailable(err) && !isRedirect(err):
			continue // WRONGTYPE: not a session record
		case err != nil:
			return wrap(node, c.Key(ids[i]), err)
		case len(fields) == 0:
			continue // gone since SCAN saw it
		}
		if err := fn(ids[i], fields); err != nil {
			return err
		}
	}
	return nil
}
