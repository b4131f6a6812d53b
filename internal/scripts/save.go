package scripts

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/store"
)

// Save applies a store.Write. It returns the new version, or one of the
// negative codes below (SaveReply turns them into errors).
//
// Every write carries a write ID (store.Write.ID, or a random one), kept in
// the record's WriteField by a create or update (a touch leaves it: the
// record's content, which the ID names with the version, is unchanged).
// go-redis resends a command whose reply timed out; the resent script finds
// its own ID and returns the record's version instead of applying the write
// again, so a create that did succeed is not reported as ErrExists, nor an
// update as ErrConflict, and the version is not bumped twice. A resent
// touch runs again, which changes nothing but the expiry.
//
// The EXISTS at the end reads the key after writing it: a write ends
// Redis's tracking of the key for every connection, and this read tracks it
// again for the connection that ran the script, so that a near cache that
// saved on its tracking stream hears of the next write by anyone else
// (cluster.NearCache's write-through). On any other connection it costs a
// lookup.
//
// KEYS[1] session key
// ARGV[1] mode: "c" create, "u" update, "t" touch
// ARGV[2] absolute expiry, unix milliseconds
// ARGV[3] expected version, "0" for any
// ARGV[4] write ID
// ARGV[5] latest time to apply it (store.Write.NotAfter), unix
// milliseconds by the server's clock (TIME), "0" for none
// ARGV[6] n, the number of fields to delete; ARGV[7..6+n] those fields;
// the rest are field, value pairs to set.
var Save = redis.NewScript(saveBody)

// SaveMoving is Save for a record that may be in the middle of a move by
// copy (the ring backend's copy mover, package cluster): when the mark
// KEYS[2] exists, the record is being copied to its new owner and must not
// change here, so it returns SaveMoving without writing anything; the
// caller helps the move finish and writes again. It reads two keys, so it
// is for a standalone primary only (never Redis Cluster), and only while a
// topology change runs: Save's hot path does not pay for the check.
//
// KEYS[1] session key, KEYS[2] its move mark; ARGV as Save's.
var SaveMoving = redis.NewScript(`
if redis.call("EXISTS", KEYS[2]) == 1 then return ` + strconv.Itoa(SaveMarked) + ` end
` + saveBody)

// SaveMarked is SaveMoving's reply when the record is being moved.
const SaveMarked = -5

const saveBody = `
if redis.call("HGET", KEYS[1], "` + store.WriteField + `") == ARGV[4] then
  return tonumber(redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "0")
end
if ARGV[5] ~= "0" then
  local t = redis.call("TIME")
  if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[5]) then return -4 end
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
local n = tonumber(ARGV[6])
-- In slices: unpack of thousands of arguments overflows Lua's stack.
for i = 7, 6 + n, 1000 do redis.call("HDEL", KEYS[1], unpack(ARGV, i, math.min(i + 999, 6 + n))) end
for i = 7 + n, #ARGV, 1000 do redis.call("HSET", KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
local v
if ARGV[1] == "t" then
  v = tonumber(redis.call("HGET", KEYS[1], "` + store.VersionField + `") or "0")
else
  redis.call("HSET", KEYS[1], "` + store.WriteField + `", ARGV[4])
  v = redis.call("HINCRBY", KEYS[1], "` + store.VersionField + `", 1)
end
redis.call("PEXPIREAT", KEYS[1], ARGV[2])
redis.call("EXISTS", KEYS[1])
return v
`

// The replies of Save that are not a version.
const (
	saveNotFound = -1 // an update or touch found no record
	saveExists   = -2 // a create found one
	saveConflict = -3 // the record's version is not IfVersion
	saveLate     = -4 // it reached the server after its NotAfter
)

// errLate is SaveReply's error for a write refused for arriving late.
var errLate = fmt.Errorf("%w: the write reached the primary after its deadline and was not applied", store.ErrUnavailable)

var modeArg = map[store.WriteMode]string{store.Create: "c", store.Update: "u", store.Touch: "t"}

// NewWriteID returns a random write ID (store.Write.ID).
func NewWriteID() string { return strconv.FormatUint(rand.Uint64(), 36) }

// ValidWriteID reports whether id is a write ID store.Write.ID allows: 1 to
// 64 bytes of [0-9a-z].
func ValidWriteID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// SaveArgs encodes w as the ARGV of Save, with w.ID as the write ID, or a
// fresh random one when it is empty. The same args must be used if the
// caller resends the script itself, so that the resent write is recognised.
func SaveArgs(w store.Write) ([]any, error) {
	mode, ok := modeArg[w.Mode]
	if !ok {
		return nil, fmt.Errorf("shardsession: unknown write mode %d", w.Mode)
	}
	id := w.ID
	if id == "" {
		id = NewWriteID()
	} else if !ValidWriteID(id) {
		return nil, fmt.Errorf("shardsession: bad write ID %q (want 1 to 64 of [0-9a-z])", id)
	}
	ifVersion := w.IfVersion
	if w.Mode == store.Create {
		ifVersion = 0
	}
	notAfter := int64(0)
	if !w.NotAfter.IsZero() {
		notAfter = max(w.NotAfter.UnixMilli(), 1)
	}
	args := make([]any, 0, 6+len(w.Del)+2*len(w.Set))
	args = append(args, mode, w.ExpireAt.UnixMilli(), ifVersion, id, notAfter, len(w.Del))
	for _, f := range w.Del {
		args = append(args, f)
	}
	for f, v := range w.Set {
		args = append(args, f, v)
	}
	return args, nil
}

// SaveReply turns Save's reply into the record's version or the store
// error it stands for (store.ErrNotFound, store.ErrExists,
// store.ErrConflict), unwrapped: the caller adds the shard or node name.
func SaveReply(reply int64) (int64, error) {
	switch reply {
	case saveNotFound:
		return 0, store.ErrNotFound
	case saveExists:
		return 0, store.ErrExists
	case saveConflict:
		return 0, store.ErrConflict
	case saveLate:
		return 0, errLate
	}
	return reply, nil
}
