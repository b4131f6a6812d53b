package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/redisauth"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// Routing while a topology change runs (see Phase), and for a cluster that
// follows the fleet's topology record (the lease check). A key only ever moves
// from its previous owner to its new owner, with MIGRATE: the previous
// owner's server is blocked while it hands the key over and deletes it, so
// to any other client the key is on exactly one of the two shards at every
// moment, and two nodes (or a node and the migrator) moving the same key
// cannot both succeed. That is why reads that do not move check the
// previous owner first (a miss there means any move has completed), why a
// read that misses on the new owner moves and then reads the new owner
// again whatever the move answered, and why deletes hit the previous owner
// first.
//
// Where the servers refuse MIGRATE, a change moves keys with the copy mover
// instead (MoverCopy, copymove.go), which keeps the same guarantees with
// marks: the variants below that it needs are chosen by s.move.mover, and
// only on this slow path.

// pair returns the shards that own id in the new ring and in the previous
// one; from is nil when the two are the same shard.
func (s *snapshot) pair(id string) (to, from *shard.Shard) {
	h := xxhash.Sum64String(id)
	to = s.shards[s.owners[h%uint64(len(s.owners))]]
	if p := s.move.prev; p != nil {
		if from = p.shards[p.owners[h%uint64(len(p.owners))]]; from == to {
			from = nil
		}
	}
	return to, from
}

func (c *Cluster) loadMoving(ctx context.Context, s *snapshot, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	if err := c.checkLease(s); err != nil {
		return nil, false, err
	}
	to, from := s.pair(id)
	if from == nil {
		return c.loadOn(ctx, to, id, opt)
	}
	// A replica may not have seen a move yet: its miss proves nothing.
	opt.Primary = true
	if s.move.phase == PhaseDualRead {
		if s.move.mover == MoverCopy {
			return c.loadCopying(ctx, from, to, id, opt)
		}
		if fields, found, err := c.loadOn(ctx, from, id, opt); err != nil || found {
			return fields, found, err
		}
		return c.loadOn(ctx, to, id, opt)
	}
	if fields, found, err := c.loadOn(ctx, to, id, opt); err != nil || found {
		return fields, found, err
	}
	if _, err := c.move(ctx, s, from, to, c.Key(id)); err != nil {
		return nil, false, err
	}
	return c.loadOn(ctx, to, id, opt)
}

func (c *Cluster) saveMoving(ctx context.Context, s *snapshot, id string, mode store.WriteMode, args []any) (int64, error) {
	if err := c.checkLease(s); err != nil {
		return 0, err
	}
	to, from := s.pair(id)
	switch {
	case from == nil:
		return c.saveOn(ctx, to, id, args)
	case s.move.phase == PhaseDualRead:
		// The previous ring is authoritative, but a node in PhaseMigrate
		// may already have moved the record.
		saveFrom := c.saveOn
		if s.move.mover == MoverCopy {
			saveFrom = func(ctx context.Context, from *shard.Shard, id string, args []any) (int64, error) {
				return c.saveOnSource(ctx, from, to, id, args)
			}
		}
		if mode == store.Create {
			return saveFrom(ctx, from, id, args)
		}
		v, err := saveFrom(ctx, from, id, args)
		if errors.Is(err, store.ErrNotFound) {
			return c.saveOn(ctx, to, id, args)
		}
		return v, err
	}
	v, err := c.saveOn(ctx, to, id, args)
	if mode == store.Create || !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	// Not moved yet: move it, then update it where it now is.
	if _, err := c.move(ctx, s, from, to, c.Key(id)); err != nil {
		return 0, err
	}
	return c.saveOn(ctx, to, id, args)
}

func (c *Cluster) deleteMoving(ctx context.Context, s *snapshot, id string) error {
	if err := c.checkLease(s); err != nil {
		return err
	}
	to, from := s.pair(id)
	if s.move.mover == MoverCopy && from != nil {
		return c.deleteCopying(ctx, from, to, id)
	}
	if from != nil {
		if err := c.deleteOn(ctx, from, id); err != nil {
			return err
		}
	}
	return c.deleteOn(ctx, to, id)
}

func (c *Cluster) existsMoving(ctx context.Context, s *snapshot, id string) (bool, error) {
	if err := c.checkLease(s); err != nil {
		return false, err
	}
	to, from := s.pair(id)
	if from != nil {
		if ok, err := c.existsOn(ctx, from, id); err != nil || ok {
			return ok, err
		}
	}
	return c.existsOn(ctx, to, id)
}

// fieldsEach is fieldsAll during a topology change: one Exists per ID, and
// a Load of those that exist when fields are asked for.
func (c *Cluster) fieldsEach(ctx context.Context, ids, names []string) (map[string]map[string]string, error) {
	found := make(map[string]map[string]string, len(ids))
	for _, id := range ids {
		ok, err := c.Exists(ctx, id)
		var fields map[string]string
		if ok && len(names) > 0 {
			fields, ok, err = c.Load(ctx, id, store.LoadOptions{Primary: true})
		}
		switch {
		case errors.Is(err, store.ErrCorrupt):
			found[id] = map[string]string{}
		case err != nil:
			return nil, err
		case ok:
			f := make(map[string]string, len(names))
			for _, n := range names {
				if v, ok := fields[n]; ok {
					f[n] = v
				}
			}
			found[id] = f
		}
	}
	return found, nil
}

// placeFor returns the shard on which to work on key, a record placed on the
// ring by id that is not a session hash (a user index, a session lock).
// During a topology change it follows the phase like a session does: the
// previous owner in PhaseDualRead; in PhaseMigrate the new owner, after
// moving the key there.
func (c *Cluster) placeFor(ctx context.Context, id, key string) (*shard.Shard, error) {
	s := c.snap.Load()
	if !s.move.slow {
		return c.ShardFor(id), nil
	}
	if err := c.checkLease(s); err != nil {
		return nil, err
	}
	to, from := s.pair(id)
	switch {
	case from == nil:
		return to, nil
	case s.move.phase == PhaseDualRead:
		return from, nil
	}
	if _, err := c.move(ctx, s, from, to, key); err != nil {
		return nil, err
	}
	return to, nil
}

// move moves keys from one shard to another with the mover of s's change,
// and counts them in Stats.
func (c *Cluster) move(ctx context.Context, s *snapshot, from, to *shard.Shard, keys ...string) (moved int, err error) {
	if s.move.mover != MoverCopy {
		return c.migrate(ctx, from, to, keys...)
	}
	moved, err = c.copyKeys(ctx, from, to, keys)
	c.stats.migratedKeys.Add(int64(moved))
	return moved, err
}

// migrateTimeout bounds one MIGRATE's transfer between the two servers.
const migrateTimeout = 2 * time.Second

// migrate moves keys from one shard's primary to another's with MIGRATE,
// keeping their remaining TTL. Keys that do not exist (any more) on from are
// skipped. It returns how many keys were found on from and moved. A key that
// exists on both shards (which the phases rule out, short of a node routing
// by a topology it should have left) is resolved by version: the copy with
// the higher version wins, the new owner's on a tie. Stats counts the keys
// moved.
func (c *Cluster) migrate(ctx context.Context, from, to *shard.Shard, keys ...string) (moved int, err error) {
	moved, err = c.migrateKeys(ctx, from, to, keys)
	c.stats.migratedKeys.Add(int64(moved))
	return moved, err
}

// migrateKeys is migrate without the counting.
func (c *Cluster) migrateKeys(ctx context.Context, from, to *shard.Shard, keys []string) (moved int, err error) {
	dst, err := target(ctx, to)
	if err != nil {
		return 0, err
	}
	args, err := migrateArgs(ctx, dst, keys)
	if err != nil {
		return 0, fmt.Errorf("shard %s: %w", to.Name(), err)
	}
	res, err := from.Primary().Do(ctx, args...).Text()
	switch {
	case err == nil && res == "NOKEY":
		return 0, nil
	case err == nil:
		return len(keys), nil
	case strings.Contains(err.Error(), "BUSYKEY"): // "ERR Target instance replied with error: BUSYKEY ..."
		return c.resolveBusy(ctx, from, to, dst, keys)
	}
	return 0, fmt.Errorf("migrate to %s: %w", to.Name(), from.Wrap(err))
}

// target returns the options MIGRATE needs to reach sh's primary. The
// client of a shard found through Sentinel has no fixed address (its
// Options().Addr is a placeholder, and sh.Addr the node it dialed last):
// the primary's address is then asked from the primary itself (CLIENT
// INFO's laddr, the address this connection reached).
func target(ctx context.Context, sh *shard.Shard) (*redis.Options, error) {
	opt := *sh.Primary().Options()
	if sh.Addr(sh.Primary()) == opt.Addr {
		return &opt, nil // a static address
	}
	info, err := sh.Primary().ClientInfo(ctx).Result()
	if err != nil {
		return nil, sh.Wrap(err)
	}
	opt.Addr = info.LAddr
	return &opt, nil
}

// migrateArgs builds MIGRATE host port "" db timeout [AUTH...] KEYS keys...
// aimed at the server dst describes, with the credentials a new connection
// of dst's client would use (its credentials provider is asked now, so a
// rotated password is picked up).
func migrateArgs(ctx context.Context, dst *redis.Options, keys []string) ([]any, error) {
	host, port, err := net.SplitHostPort(dst.Addr)
	if err != nil {
		return nil, fmt.Errorf("migrate needs a host:port address, have %q: %w", dst.Addr, err)
	}
	user, pass, err := redisauth.Credentials(ctx, dst)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	args := make([]any, 0, 10+len(keys))
	args = append(args, "migrate", host, port, "", dst.DB, migrateTimeout.Milliseconds())
	switch {
	case user != "":
		args = append(args, "auth2", user, pass)
	case pass != "":
		args = append(args, "auth", pass)
	}
	args = append(args, "keys")
	for _, k := range keys {
		args = append(args, k)
	}
	return args, nil
}

// resolveBusy settles keys that exist on both shards after a MIGRATE
// refused them, one by one: a session hash keeps the copy with the higher
// version (the new owner's on a tie); a sorted set (a user index) is merged
// into the new owner's; anything else (a lock) keeps the new owner's copy.
func (c *Cluster) resolveBusy(ctx context.Context, from, to *shard.Shard, dst *redis.Options, keys []string) (moved int, err error) {
	src := from.Primary()
	for _, key := range keys {
		typ, err := src.Type(ctx, key).Result()
		if err != nil {
			return moved, from.Wrap(err)
		}
		switch typ {
		case "none":
			continue // moved by the first MIGRATE, or gone
		case "hash":
			ours, err := src.HGet(ctx, key, store.VersionField).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return moved, from.Wrap(err)
			}
			theirs, err := to.Primary().HGet(ctx, key, store.VersionField).Int64()
			if err != nil && !errors.Is(err, redis.Nil) {
				return moved, to.Wrap(err)
			}
			if ours > theirs {
				args, err := migrateArgs(ctx, dst, []string{key})
				if err != nil {
					return moved, fmt.Errorf("shard %s: %w", to.Name(), err)
				}
				args = append(args[:len(args)-2], "replace", "keys", key)
				if err := src.Do(ctx, args...).Err(); err != nil {
					return moved, from.Wrap(err)
				}
				moved++
				continue
			}
		case "zset":
			if err := mergeZSet(ctx, from, to, key); err != nil {
				return moved, err
			}
			moved++
		}
		if err := src.Del(ctx, key).Err(); err != nil {
			return moved, from.Wrap(err)
		}
	}
	return moved, nil
}

// mergeZSet adds the members of the sorted set key on from to the one on
// to, keeping the higher score, and the later expiry.
func mergeZSet(ctx context.Context, from, to *shard.Shard, key string) error {
	zs, err := from.Primary().ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		return from.Wrap(err)
	}
	ttl, err := from.Primary().PTTL(ctx, key).Result()
	if err != nil {
		return from.Wrap(err)
	}
	if len(zs) == 0 {
		return nil
	}
	_, err = to.Primary().TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZAddGT(ctx, key, zs...)
		if ttl > 0 {
			p.Do(ctx, "pexpire", key, ttl.Milliseconds(), "gt")
		}
		return nil
	})
	return to.Wrap(err)
}
