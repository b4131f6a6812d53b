package cluster

import (
	"context"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/shard"
)

// Iterate calls fn with the ID and fields of every session stored in the
// cluster, shard by shard, until fn returns an error (which Iterate
// returns). It fans SCAN out to every primary (scan) and loads each page of
// records with one pipeline, so memory stays bounded however many sessions
// there are. Keys of the cluster's other key spaces (user indexes, locks,
// adapters' records: IDs with a ':') are skipped. Like SCAN, it visits every
// session that exists for the whole iteration at least once (rarely twice);
// sessions created, deleted or expiring meanwhile may or may not be seen.
func (c *Cluster) Iterate(ctx context.Context, fn func(id string, fields map[string]string) error) error {
	return c.iterate(ctx, "", validID, fn)
}

// IteratePrefix is Iterate over the records whose ID starts with idPrefix,
// whatever their form: an adapter's key space (scs, gorilla), which Iterate
// leaves out. Keys of another type than a hash are skipped.
func (c *Cluster) IteratePrefix(ctx context.Context, idPrefix string, fn func(id string, fields map[string]string) error) error {
	return c.iterate(ctx, idPrefix, func(string) bool { return true }, fn)
}

// iterate calls fn with every hash record whose ID starts with idPrefix and
// passes keep.
func (c *Cluster) iterate(ctx context.Context, idPrefix string, keep func(id string) bool, fn func(id string, fields map[string]string) error) error {
	return c.scan(ctx, idPrefix, func(sh *shard.Shard, ids []string) error {
		return keyspace.LoadHashes(ctx, sh.Primary().Pipeline(), c.prefix, ids, keep, shard.IsUnavailable, sh.Wrap, fn)
	})
}
