// Package keyspace holds what the Redis backends (package cluster, package
// rediscluster) agree on about keys and channels, so that a record written
// by one reads the same in the other: which IDs can be sessions, the
// payload of a session event on the events channel, Redis's expired-key
// channel, and the escaping of a SCAN pattern.
package keyspace

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/store"
)

// ValidID reports whether id can be a session ID: non-empty, at most 256
// bytes, free of the ':' that separates the backends' other key spaces
// (user indexes, locks, adapters' records) from session keys and of
// spaces, and not one of a backend's own records (which start with '~').
func ValidID(id string) bool {
	return id != "" && len(id) <= 256 && !strings.ContainsAny(id, ": ") && !strings.HasPrefix(id, "~")
}

// GlobEscape quotes the characters that SCAN's MATCH pattern treats as
// special, so a prefix matches only itself.
func GlobEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// ExpiredChannel is where Redis announces expired keys of DB 0 once
// notify-keyspace-events includes "Ex". The announcements are local to the
// node whose key expired, also on Redis Cluster.
const ExpiredChannel = "__keyevent@0__:expired"

// FormatEvent is the payload Publish sends for e: "kind id [oldID]".
func FormatEvent(e store.Event) string {
	msg := string(e.Kind) + " " + e.ID
	if e.OldID != "" {
		msg += " " + e.OldID
	}
	return msg
}

// ParseEvent parses a payload made by FormatEvent; ok is false for
// anything else.
func ParseEvent(payload string) (store.Event, bool) {
	parts := strings.Split(payload, " ")
	if len(parts) < 2 || len(parts) > 3 || !ValidID(parts[1]) {
		return store.Event{}, false
	}
	e := store.Event{Kind: store.EventKind(parts[0]), ID: parts[1]}
	switch e.Kind {
	case store.Created, store.Destroyed:
		return e, len(parts) == 2
	case store.Renewed:
		if len(parts) != 3 || !ValidID(parts[2]) {
			return store.Event{}, false
		}
		e.OldID = parts[2]
		return e, true
	}
	return store.Event{}, false
}

// ParseExpired turns the payload of ExpiredChannel, an expired key, into
// an Expired event when the key is a session key under prefix.
func ParseExpired(prefix, key string) (store.Event, bool) {
	id, ok := strings.CutPrefix(key, prefix)
	if !ok || !ValidID(id) {
		return store.Event{}, false
	}
	return store.Event{Kind: store.Expired, ID: id}, true
}

// EnableExpiredEvents makes the node behind c emit expired-key events by
// adding "Ex" to its notify-keyspace-events setting with CONFIG SET,
// keeping the flags already there. Redis does not persist the setting (no
// CONFIG REWRITE) and a promoted replica does not inherit it, so call it
// on every (re)subscription. It fails if CONFIG is disabled or renamed;
// then set notify-keyspace-events to include "Ex" in redis.conf instead.
func EnableExpiredEvents(ctx context.Context, c redis.Cmdable) error {
	cur, err := c.ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		return err
	}
	flags := cur["notify-keyspace-events"]
	if strings.Contains(flags, "E") && strings.ContainsAny(flags, "xA") {
		return nil // already on ("A" includes "x")
	}
	return c.ConfigSet(ctx, "notify-keyspace-events", flags+"Ex").Err()
}

// LoadHashes loads, with one pipeline on p, the records of the IDs (key =
// prefix + ID) that pass keep, and calls fn with each one that exists and
// is a hash, until fn returns an error (returned as is). A reply error for
// which unavailable is false (WRONGTYPE: not a session record) skips its
// key; any other error is returned through wrap. It serves Iterate, one
// SCAN page at a time.
func LoadHashes(ctx context.Context, p redis.Pipeliner, prefix string, ids []string, keep func(id string) bool, unavailable func(error) bool, wrap func(error) error, fn func(id string, fields map[string]string) error) error {
	cmds := make([]*redis.MapStringStringCmd, 0, len(ids))
	live := make([]string, 0, len(ids))
	for _, id := range ids {
		if keep(id) {
			live = append(live, id)
			cmds = append(cmds, p.HGetAll(ctx, prefix+id))
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
		case err != nil && errors.As(err, &rerr) && !unavailable(err):
			continue // WRONGTYPE: not a session record
		case err != nil:
			return wrap(err)
		case len(fields) == 0:
			continue // gone since SCAN saw it
		}
		if err := fn(live[i], fields); err != nil {
			return err
		}
	}
	return nil
}

// ErrExpiredEventsOff says that a node publishes no expired-key events and
// that they cannot be turned on from here.
var ErrExpiredEventsOff = errors.New(`expired-key events are off and CONFIG is refused here: ` +
	`set notify-keyspace-events to include "Ex" in the server's configuration (a managed service's ` +
	`parameter group or console); until then no Expired event is reported`)

// ConfigRefused reports whether err is a server's refusal of CONFIG
// (renamed away, or not allowed to this user), as managed services do.
func ConfigRefused(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := strings.ToLower(re.Error())
	return strings.Contains(msg, "unknown command") || strings.HasPrefix(msg, "noperm") || strings.Contains(msg, "not allowed")
}

// probeKeyPrefix starts the keys of an ExpiryProbe: never a session key
// (an ID holds no ':').
const probeKeyPrefix = "shardsession-probe:"

// ProbeKey returns a fresh key for an ExpiryProbe.
func ProbeKey() string { return probeKeyPrefix + strconv.FormatUint(rand.Uint64(), 36) }

// ExpiryProbe finds out whether a node publishes expired-key events where
// CONFIG cannot tell: it writes a key that expires at once, reads it (so
// that it expires now, not when Redis's expiry cycle samples it), and
// waits for its event on the subscription, which hands every expired key
// to Expired.
type ExpiryProbe struct {
	key  string
	seen chan struct{}
	once sync.Once
}

// StartProbe starts a probe of key (ProbeKey, or one that lives on the
// node c writes to) through c, and calls off if no event came within
// wait. It returns at once.
func StartProbe(ctx context.Context, c redis.Cmdable, key string, wait time.Duration, off func()) *ExpiryProbe {
	p := &ExpiryProbe{key: key, seen: make(chan struct{})}
	go func() {
		if err := c.Set(ctx, key, "", time.Millisecond).Err(); err != nil {
			return // the node is away: its subscription's errors say so
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.seen:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				off()
				return
			case <-tick.C:
				c.Exists(ctx, key) // expires it if it is due
			}
		}
	}()
	return p
}

// Expired tells the probe that key expired; a nil probe ignores it.
func (p *ExpiryProbe) Expired(key string) {
	if p != nil && key == p.key {
		p.once.Do(func() { close(p.seen) })
	}
}
