package bench

import (
	"context"

	"github.com/redis/go-redis/v9"
	"github.com/shardsession/shardsession/store"
)

// RingStore is the baseline session store: go-redis's Ring over the same
// shards (or, from NewClusterClientStore, its ClusterClient over a Redis
// Cluster), with no scripts, no replica reads and no caching. Its writes
// do not check that an updated session still exists, and ignore
// Write.IfVersion (no compare-and-set).
type RingStore struct {
	ring   redis.UniversalClient
	prefix string
}

// NewRingStore returns a RingStore over addrs (shard name → address).
func NewRingStore(addrs map[string]string) *RingStore {
	return &RingStore{ring: redis.NewRing(&redis.RingOptions{Addrs: addrs}), prefix: "ring:"}
}

// NewClusterClientStore returns the same store on go-redis's
// ClusterClient over the Redis Cluster that seeds belong to: the plain
// store a Redis Cluster user writes. A session is one key, so its
// pipeline goes to one master.
func NewClusterClientStore(seeds []string) *RingStore {
	return &RingStore{ring: redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds}), prefix: "clusterclient:"}
}

// Load implements session.Store with HGETALL. It reads only from primaries,
// so it ignores opt.
func (s *RingStore) Load(ctx context.Context, id string, _ store.LoadOptions) (map[string]string, bool, error) {
	fields, err := s.ring.HGetAll(ctx, s.prefix+id).Result()
	return fields, len(fields) > 0, err
}

// Save implements session.Store with one pipeline.
func (s *RingStore) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	key := s.prefix + id
	var version *redis.IntCmd
	_, err := s.ring.Pipelined(ctx, func(p redis.Pipeliner) error {
		if len(w.Del) > 0 {
			p.HDel(ctx, key, w.Del...)
		}
		if len(w.Set) > 0 {
			args := make([]any, 0, 2*len(w.Set))
			for f, v := range w.Set {
				args = append(args, f, v)
			}
			p.HSet(ctx, key, args...)
		}
		version = p.HIncrBy(ctx, key, store.VersionField, 1)
		p.PExpireAt(ctx, key, w.ExpireAt)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return version.Val(), nil
}

// Delete implements session.Store with DEL.
func (s *RingStore) Delete(ctx context.Context, id string) error {
	return s.ring.Del(ctx, s.prefix+id).Err()
}

// Close closes the ring's clients.
func (s *RingStore) Close() error { return s.ring.Close() }
