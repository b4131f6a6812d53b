package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// The copy mover (MoverCopy): moving keys where the servers refuse MIGRATE
// (managed Redis services), with scripts only (copyscripts.go). MIGRATE
// hands a key over atomically; a copy cannot, so for a moment a key exists
// on both owners. The protocol keeps MIGRATE's guarantees (no session lost,
// none resurrected, no update lost, TTLs kept) by making the copy on the
// previous owner ("from") read-only while it lasts:
//
//  1. Mark: a script on from, if the key exists and no other mover's lease
//     is live, sets a mark (P~moving:<key>: the mover's token and a lease
//     deadline by from's clock, moveLease ahead) and returns the record,
//     its type and its absolute expiry, in one atomic step.
//  2. Copy: a script on the new owner ("to") creates the record, with the
//     same absolute expiry, only if it is absent there and no tombstone
//     (P~gone:<key>) says it was deleted during the change. If it is
//     present, the copies are settled as resolveBusy settles them: the
//     higher session version wins (a compare-and-set on to's version), user
//     indexes merge, a lock keeps to's holder.
//  3. Finish: a script on from deletes the record and the mark if the mark
//     is still the mover's, and only what was copied (the same session
//     version, lock holder, index scores); anything else is left for
//     another round of 1–3.
//
// What keeps it safe, race by race:
//
//   - A write on from (a PhaseDualRead node's save, scripts.SaveMoving) or
//     a delete on from (every delete during the change, deleteUnmarked)
//     refuses to run while the key has a mark, live or stale, and the
//     writer helps the move finish (copyMove) before it tries again; after
//     the move it finds nothing on from and goes to to, as with MIGRATE.
//     So between 1 and 3 the record on from cannot change: the copy on to
//     is the latest state, and deleting from's copy in 3 loses nothing.
//   - Writes of to's copy between 2 and 3 (PhaseMigrate nodes) are newer
//     than from's copy; reads that find the record on from with a mark
//     (PhaseDualRead nodes, loadMarked) read to as well and take the
//     higher version, so no read goes back in time.
//   - A delete racing a copy: the delete removes from's copy only when no
//     mark is set (atomically, in one script), so either the mover marked
//     first (the delete then helps the move finish and deletes to's copy
//     after it) or the delete came first (the mover then finds nothing to
//     move). A delete also leaves a tombstone on to for tombTTL, so that
//     a mover that stalled past its lease, whose delayed copy arrives
//     after the delete, cannot create the session again.
//   - Two movers of one key: only one holds a live mark; the other waits
//     for the mark to go (the move is then done: it finds nothing) or for
//     the lease to pass (it takes the move over, and settles by version
//     with whatever the first one copied).
//   - A mover that dies leaves a mark whose lease passes: the next mover
//     or writer takes the move over. A mover copies nothing once moveLease/2
//     has passed since its mark (moveSendBy), so a copy that lands after
//     another node took over is either settled by version (the taker-over
//     copied the same record or a later one) or refused by a tombstone. A
//     late replace (settleCopy) is a compare-and-set on to's version, so it
//     cannot overwrite anything written after the version it compared.
//   - User indexes and locks are written on from without looking at marks
//     (a PhaseDualRead node's IndexUser, TryLock): the finish deletes only
//     the index members and the lock holder it copied, so what was added
//     meanwhile stays on from and moves in another round (indexes merge).
//     An index member removed from from during the move may come back on
//     to; UserSessions drops members whose session is gone.
//
// The one assumption: a command reaches its server less than tombTTL after
// it was sent (moveSendBy + network delay < tombTTL), as any lease assumes
// bounded delays. The stable hot path is unchanged: only the scripts used
// while a change runs with MoverCopy look at marks and tombstones.

const (
	// moveLease is how long a mark keeps other movers and writers off a
	// key before they may take the move over.
	moveLease = 5 * time.Second
	// moveSendBy is how long after its mark a mover still sends its copy;
	// past it, it drops its mark and starts again.
	moveSendBy = moveLease / 2
	// markTTL lets Redis collect a mark its mover left behind; the lease,
	// not this TTL, is what others wait for.
	markTTL = time.Hour
	// tombTTL is how long a delete during a change keeps a late copy from
	// bringing the session back.
	tombTTL = time.Minute
	// moveWait bounds how long one move waits for other movers and
	// retries before failing with ErrMoveStalled.
	moveWait = 3 * moveLease
	// moveHelps bounds how often a write helps a move and tries again.
	moveHelps = 4
)

// errKeyMoving is a write's answer on from when the key has a mark.
var errKeyMoving = errors.New("shardsession: key is being moved")

// markKey and tombKey are the move mark and the tombstone of key, one of
// the cluster's own records (reservedMark): never moved, never sessions.
func (c *Cluster) markKey(key string) string {
	return c.prefix + reservedMark + "moving:" + key[len(c.prefix):]
}

func (c *Cluster) tombKey(key string) string {
	return c.prefix + reservedMark + "gone:" + key[len(c.prefix):]
}

// copyMovers is how many keys of one batch copyKeys moves at once: a move
// is three round trips, and one MIGRATE moves a whole batch in one.
const copyMovers = 8

// copyKeys moves keys from one shard to another with the copy mover and
// returns how many were moved.
func (c *Cluster) copyKeys(ctx context.Context, from, to *shard.Shard, keys []string) (moved int, err error) {
	if len(keys) == 1 {
		ok, err := c.copyMove(ctx, from, to, keys[0])
		if ok {
			moved = 1
		}
		return moved, err
	}
	var n atomic.Int64
	errs := make([]error, copyMovers)
	var wg sync.WaitGroup
	for w := range copyMovers {
		wg.Go(func() {
			for i := w; i < len(keys) && errs[w] == nil; i += copyMovers {
				ok, err := c.copyMove(ctx, from, to, keys[i])
				if ok {
					n.Add(1)
				}
				errs[w] = err
			}
		})
	}
	wg.Wait()
	return int(n.Load()), errors.Join(errs...)
}

// copyMove moves key from from to to (see the protocol above). It returns
// when key is no longer on from: moved reports whether this call moved it.
func (c *Cluster) copyMove(ctx context.Context, from, to *shard.Shard, key string) (moved bool, err error) {
	var b [8]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	mark := c.markKey(key)
	deadline := time.Now().Add(moveWait)
	pause := time.Millisecond
	for {
		start := time.Now()
		res, err := moveMarkScript.Run(ctx, from.Primary(), []string{key, mark}, token, moveLease.Milliseconds(), markTTL.Milliseconds()).StringSlice()
		if err != nil {
			return false, fmt.Errorf("move %s: marking it on shard %s: %w", key, from.Name(), from.Wrap(err))
		}
		switch {
		case len(res) == 0 || res[0] == "none":
			return false, nil
		case res[0] == "busy":
		case len(res) < 3:
			return false, fmt.Errorf("move %s: shard %s answered %q", key, from.Name(), res)
		default:
			done, err := c.copyOnce(ctx, from, to, key, token, start, res[0], res[1], res[2:])
			if err != nil {
				moveReleaseScript.Run(context.WithoutCancel(ctx), from.Primary(), []string{mark}, token)
				return false, err
			}
			if done {
				return true, nil
			}
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("shard %s: %w: %s for more than %v", from.Name(), ErrMoveStalled, key, moveWait)
		}
		if err := sleepUntil(ctx, time.Now().Add(pause)); err != nil {
			return false, err
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// copyOnce is steps 2 and 3 for a record marked at start: it reports
// whether the move is complete; false means another round.
func (c *Cluster) copyOnce(ctx context.Context, from, to *shard.Shard, key, token string, start time.Time, typ, exp string, data []string) (bool, error) {
	if time.Since(start) > moveSendBy {
		// Too late to copy safely: another node may be taking over.
		err := moveReleaseScript.Run(ctx, from.Primary(), []string{c.markKey(key)}, token).Err()
		return false, from.Wrap(err)
	}
	tomb := c.tombKey(key)
	args := make([]any, 0, 2+len(data))
	args = append(args, typ, exp)
	for _, d := range data {
		args = append(args, d)
	}
	r, err := moveCopyScript.Run(ctx, to.Primary(), []string{key, tomb}, args...).Int()
	if err != nil {
		return false, fmt.Errorf("move %s: copying it to shard %s: %w", key, to.Name(), to.Wrap(err))
	}
	if r == 0 {
		settled, err := c.settleCopy(ctx, to, key, typ, exp, data)
		if err != nil || !settled {
			return false, err
		}
	}
	// r == -1: deleted during the change; from's copy goes too.
	fin := make([]any, 0, 3+len(data))
	fin = append(fin, token, typ)
	switch typ {
	case "hash":
		fin = append(fin, hashVersion(data))
	case "string":
		fin = append(fin, data[0])
	default:
		for _, d := range data {
			fin = append(fin, d)
		}
	}
	done, err := moveFinishScript.Run(ctx, from.Primary(), []string{key, c.markKey(key)}, fin...).Int()
	if err != nil {
		return false, fmt.Errorf("move %s: deleting it from shard %s: %w", key, from.Name(), from.Wrap(err))
	}
	return done == 1, nil
}

// settleCopy settles a record present on to as well: the higher session
// version wins (to's on a tie), user indexes merge, a lock keeps to's
// holder. It reports false when to's record changed meanwhile: compare
// again, in another round.
func (c *Cluster) settleCopy(ctx context.Context, to *shard.Shard, key, typ, exp string, data []string) (bool, error) {
	keys := []string{key, c.tombKey(key)}
	switch typ {
	case "hash":
		theirs, err := to.Primary().HGet(ctx, key, store.VersionField).Result()
		if errors.Is(err, redis.Nil) {
			// Gone since the copy found it (expired, deleted): another round.
			return false, nil
		}
		if err != nil {
			return false, to.Wrap(err)
		}
		if versionOf(hashVersion(data)) <= versionOf(theirs) {
			return true, nil
		}
		args := make([]any, 0, 3+len(data))
		args = append(args, typ, exp, theirs)
		for _, d := range data {
			args = append(args, d)
		}
		r, err := moveReplaceScript.Run(ctx, to.Primary(), keys, args...).Int()
		return r != 0, to.Wrap(err)
	case "zset":
		args := make([]any, 0, 2+len(data))
		args = append(args, typ, exp)
		for _, d := range data {
			args = append(args, d)
		}
		r, err := moveMergeScript.Run(ctx, to.Primary(), keys, args...).Int()
		return r != 0, to.Wrap(err)
	}
	return true, nil
}

// hashVersion returns the version field among a hash's field, value pairs,
// "" if there is none.
func hashVersion(data []string) string {
	for i := 0; i+1 < len(data); i += 2 {
		if data[i] == store.VersionField {
			return data[i+1]
		}
	}
	return ""
}

// versionOf parses a version; a missing or corrupt one counts as 0.
func versionOf(s string) int64 {
	v, _ := strconv.ParseInt(s, 10, 64)
	return v
}
