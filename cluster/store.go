package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// saveScript applies a Write. It returns the new version, -1 when an update
// finds no record, -2 when a create finds one, -3 when the record's version
// is not the expected one.
//
// Every write carries a random write ID, kept in the record's WriteField.
// go-redis resends a command whose reply timed out; the resent script finds
// its own ID and returns the record's version instead of applying the write
// again, so a create that did succeed is not reported as ErrExists, nor an
// update as ErrConflict, and the version is not bumped twice.
//
// The EXISTS at the end reads the key after writing it: a write ends
// Redis's tracking of the key for every connection, and this read tracks it
// again for the connection that ran the script, so that a near cache that
// saved on its tracking stream hears of the next write by anyone else
// (NearCache.saveThrough). On any other connection it costs a lookup.
//
// KEYS[1] session key
// ARGV[1] mode: "c" create, "u" update, "t" touch
// ARGV[2] absolute expiry, unix milliseconds
// ARGV[3] expected version, "0" for any
// ARGV[4] write ID
// ARGV[5] n, the number of fields to delete; ARGV[6..5+n] those fields;
// the rest are field, value pairs to set.
var saveScript = redis.NewScript(`
if redis.call("HGET", KEYS[1], "` + store.WriteField + `") == ARGV[4] then
  return tonumber(redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "0")
end
local exists = redis.call("EXISTS", KEYS[1]) == 1
if ARGV[1] == "c" then
  if exists then return -2 end
elseif not exists then
  return -1
end
if ARGV[3] ~= "0" and (redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "0") ~= ARGV[3] then
  return -3
end
local n = tonumber(ARGV[5])
-- In slices: unpack of thousands of arguments overflows Lua's stack.
for i = 6, 5 + n, 1000 do redis.call("HDEL", KEYS[1], unpack(ARGV, i, math.min(i + 999, 5 + n))) end
for i = 6 + n, #ARGV, 1000 do redis.call("HSET", KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call("HSET", KEYS[1], "` + store.WriteField + `", ARGV[4])
local v
if ARGV[1] == "t" then
  v = tonumber(redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "0")
else
  v = redis.call("HINCRBY", KEYS[1], "` + store.VersionField + `", 1)
end
redis.call("PEXPIREAT", KEYS[1], ARGV[2])
redis.call("EXISTS", KEYS[1])
return v
`)

var modeArg = map[store.WriteMode]string{store.Create: "c", store.Update: "u", store.Touch: "t"}

// Load returns the fields of the session id. A missing record is
// found == false with a nil error; err is only for failures, and wraps
// shard.ErrUnavailable when the shard could not answer. opt says how fresh
// the answer must be (see LoadOptions).
func (c *Cluster) Load(ctx context.Context, id string, opt store.LoadOptions) (fields map[string]string, found bool, err error) {
	if s := c.snap.Load(); s.move.slow {
		fields, found, err = c.loadMoving(ctx, s, id, opt)
	} else {
		fields, found, err = c.loadOn(ctx, c.ShardFor(id), id, opt)
	}
	return fields, found, wrongType(err)
}

// wrongType marks err as store.ErrCorrupt when Redis answered WRONGTYPE.
func wrongType(err error) error {
	var re redis.Error
	if errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE") && !errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w: %w", store.ErrCorrupt, err)
	}
	return err
}

// Save applies w to the session id atomically and returns the record's
// version after it. With Options.Durability.SaveReplicas set, a save that
// fewer replicas confirmed returns its version and an error wrapping
// ErrNotReplicated: it is on the primary, not yet safe from a failover.
func (c *Cluster) Save(ctx context.Context, id string, w store.Write) (version int64, err error) {
	args, err := saveArgs(w)
	if err != nil {
		return 0, err
	}
	if s := c.snap.Load(); s.move.slow {
		return c.saveMoving(ctx, s, id, w.Mode, args)
	}
	return c.saveOn(ctx, c.ShardFor(id), id, args)
}

// saveArgs returns the save script's ARGV for w, with a new write ID.
func saveArgs(w store.Write) ([]any, error) {
	mode, ok := modeArg[w.Mode]
	if !ok {
		return nil, fmt.Errorf("shardsession: unknown write mode %d", w.Mode)
	}
	ifVersion := w.IfVersion
	if w.Mode == store.Create {
		ifVersion = 0
	}
	args := make([]any, 0, 5+len(w.Del)+2*len(w.Set))
	args = append(args, mode, w.ExpireAt.UnixMilli(), ifVersion, strconv.FormatUint(rand.Uint64(), 36), len(w.Del))
	for _, f := range w.Del {
		args = append(args, f)
	}
	for f, v := range w.Set {
		args = append(args, f, v)
	}
	return args, nil
}

// saveOn runs the save script with args on the shard sh.
func (c *Cluster) saveOn(ctx context.Context, sh *shard.Shard, id string, args []any) (version int64, err error) {
	acked, err := c.waitFor(ctx, sh, c.durability.SaveReplicas, func(p redis.Cmdable) (err error) {
		version, err = saveScript.Run(ctx, p, []string{c.Key(id)}, args...).Int64()
		return err
	})
	if err != nil {
		return 0, sh.Fail(err)
	}
	if version, err = savedVersion(sh, version); err != nil {
		return 0, err
	}
	if acked < int64(c.durability.SaveReplicas) {
		return version, fmt.Errorf("shard %s: %w: %d of %d replicas confirmed within %v", sh.Name(), store.ErrNotReplicated, acked, c.durability.SaveReplicas, c.durability.Timeout)
	}
	return version, nil
}

// savedVersion turns the save script's answer on sh into the record's
// version, or the error its negative codes stand for.
func savedVersion(sh *shard.Shard, version int64) (int64, error) {
	switch version {
	case -1:
		return 0, fmt.Errorf("shard %s: %w", sh.Name(), store.ErrNotFound)
	case -2:
		return 0, fmt.Errorf("shard %s: %w", sh.Name(), store.ErrExists)
	case -3:
		return 0, fmt.Errorf("shard %s: %w", sh.Name(), store.ErrConflict)
	}
	return version, nil
}

// Delete removes the session id. Deleting a missing record is not an error.
// It waits for Options.Durability.DeleteReplicas replicas to confirm the
// delete, and journals it on another shard when they do not, so that a
// failover does not bring the session back (see revoke.go).
func (c *Cluster) Delete(ctx context.Context, id string) error {
	if s := c.snap.Load(); s.move.slow {
		return c.deleteMoving(ctx, s, id)
	}
	return c.deleteOn(ctx, c.ShardFor(id), id)
}

// Exists reports whether the session id is stored.
func (c *Cluster) Exists(ctx context.Context, id string) (bool, error) {
	if s := c.snap.Load(); s.move.slow {
		return c.existsMoving(ctx, s, id)
	}
	return c.existsOn(ctx, c.ShardFor(id), id)
}

// existsOn is Exists on the shard sh.
func (c *Cluster) existsOn(ctx context.Context, sh *shard.Shard, id string) (bool, error) {
	var n int64
	err := sh.Read(ctx, func(ctx context.Context, r redis.Cmdable) (err error) {
		n, err = r.Exists(ctx, c.Key(id)).Result()
		return err
	})
	if err != nil {
		return false, err
	}
	return n == 1 && !c.revoked(ctx, sh, id), nil
}

// deleteOn is Delete on the shard sh.
func (c *Cluster) deleteOn(ctx context.Context, sh *shard.Shard, id string) error {
	return c.delete(ctx, sh, id)
}
