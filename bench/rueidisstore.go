package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/rueidis"
	"github.com/shardsession/shardsession/store"
)

// RueidisStore is the strongest peer measured here: one rueidis client per
// shard (rueidis pipelines every command automatically), loads with
// DoCache (rueidis's RESP3 client-side cache of the raw HGETALL reply,
// which the Manager still decodes on every request), saves with one
// DoMulti. Keys are routed by xxhash modulo the shard count. Like
// RingStore it does not check that an updated session still exists.
type RueidisStore struct {
	clients []rueidis.Client
	prefix  string
	ttl     time.Duration
}

// NewRueidisClusterStore connects to the Redis Cluster that seeds belong
// to with one rueidis client, which routes each key to its slot's master
// (and caches with DoCache as on shards).
func NewRueidisClusterStore(seeds []string) (*RueidisStore, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: seeds})
	if err != nil {
		return nil, fmt.Errorf("rueidis cluster %v: %w", seeds, err)
	}
	return &RueidisStore{clients: []rueidis.Client{c}, prefix: "rueidis-cluster:", ttl: time.Hour}, nil
}

// NewRueidisStore connects to addrs, one client per shard.
func NewRueidisStore(addrs []string) (*RueidisStore, error) {
	s := &RueidisStore{prefix: "rueidis:", ttl: time.Hour}
	for _, a := range addrs {
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{a}, ForceSingleClient: true})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("rueidis %s: %w", a, err)
		}
		s.clients = append(s.clients, c)
	}
	return s, nil
}

func (s *RueidisStore) client(id string) rueidis.Client {
	return s.clients[xxhash.Sum64String(id)%uint64(len(s.clients))]
}

// Load implements session.Store with DoCache(HGETALL).
func (s *RueidisStore) Load(ctx context.Context, id string, _ store.LoadOptions) (map[string]string, bool, error) {
	c := s.client(id)
	fields, err := c.DoCache(ctx, c.B().Hgetall().Key(s.prefix+id).Cache(), s.ttl).AsStrMap()
	return fields, len(fields) > 0, err
}

// Save implements session.Store with one DoMulti of HDEL, HSET, HINCRBY and
// PEXPIREAT.
func (s *RueidisStore) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	c, key := s.client(id), s.prefix+id
	cmds := make(rueidis.Commands, 0, 4)
	if len(w.Del) > 0 {
		cmds = append(cmds, c.B().Hdel().Key(key).Field(w.Del...).Build())
	}
	if len(w.Set) > 0 {
		hset := c.B().Hset().Key(key).FieldValue()
		for f, v := range w.Set {
			hset = hset.FieldValue(f, string(v))
		}
		cmds = append(cmds, hset.Build())
	}
	cmds = append(cmds,
		c.B().Hincrby().Key(key).Field(store.VersionField).Increment(1).Build(),
		c.B().Pexpireat().Key(key).MillisecondsTimestamp(w.ExpireAt.UnixMilli()).Build())
	res := c.DoMulti(ctx, cmds...)
	for _, r := range res {
		if err := r.Error(); err != nil {
			return 0, err
		}
	}
	return res[len(res)-2].AsInt64()
}

// Delete implements session.Store with DEL.
func (s *RueidisStore) Delete(ctx context.Context, id string) error {
	c := s.client(id)
	return c.Do(ctx, c.B().Del().Key(s.prefix+id).Build()).Error()
}

// Close closes the clients.
func (s *RueidisStore) Close() error {
	for _, c := range s.clients {
		c.Close()
	}
	return nil
}
