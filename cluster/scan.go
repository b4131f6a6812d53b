package cluster

import (
	"context"
	"strings"

	"github.com/shardsession/shardsession/internal/keyspace"
	"github.com/shardsession/shardsession/shard"
)

// scanCount is the COUNT hint of each SCAN call: large enough to keep round
// trips few, small enough not to block a shard for long.
const scanCount = 1000

// scan walks the IDs of every stored record whose ID starts with idPrefix, on
// every shard's primary, one SCAN page at a time, and calls fn with the shard
// and that page's IDs. It is for administration (listing, counting,
// exporting), not for the request path: it costs a full SCAN of every shard.
// Like SCAN it may return an ID more than once and may miss records created
// or deleted while it runs. It stops at the first error from a shard or fn.
func (c *Cluster) scan(ctx context.Context, idPrefix string, fn func(sh *shard.Shard, ids []string) error) error {
	match := globEscape(c.Key(idPrefix)) + "*"
	for _, sh := range c.Shards() {
		var cursor uint64
		for {
			keys, next, err := sh.Primary().Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return sh.Wrap(err)
			}
			if len(keys) > 0 {
				for i, k := range keys {
					keys[i] = strings.TrimPrefix(k, c.prefix)
				}
				if err := fn(sh, keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return nil
}

// globEscape quotes the characters that SCAN's MATCH pattern treats as
// special, so a prefix matches only itself.
func globEscape(s string) string { return keyspace.GlobEscape(s) }
