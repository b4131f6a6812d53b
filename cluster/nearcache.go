package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// NearCacheOptions configure a NearCache. The zero value works.
type NearCacheOptions struct {
	// MaxEntries bounds the number of cached sessions. Default 100,000.
	MaxEntries int

	// MaxBytes bounds the cached sessions' size, as reported by the decode
	// function plus the ID and a fixed overhead per entry. Default 64 MiB.
	MaxBytes int64

	// HealthInterval is how often each invalidation connection is pinged. A
	// connection silent for three intervals counts as lost and the cache is
	// flushed. Default 1 s.
	HealthInterval time.Duration
}

func (o *NearCacheOptions) init() {
	if o.MaxEntries == 0 {
		o.MaxEntries = 100_000
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 20
	}
	if o.HealthInterval == 0 {
		o.HealthInterval = time.Second
	}
}

// nearParts is the number of independently locked parts of the cache.
const nearParts = 64

// entryOverhead approximates the memory of an entry beyond its value.
const entryOverhead = 96

// NearCache is a coherent per-node cache of decoded sessions in front of a
// Cluster. It is a session.Store (reads and writes go to the Cluster) that
// also serves LoadDecoded: a session decoded by one request is handed,
// still decoded, to the next, with no network round trip and no decode.
//
// Coherence: for every shard the cache holds one RESP3 connection to the
// primary in Redis's default tracking mode (tracking.Stream), and reads
// the sessions it caches on that connection, so Redis remembers that this
// node holds them. A write, delete, expiry or eviction of a held session by
// any other connection makes Redis push its key to the nodes that hold it,
// which drop the entry; a node that never read a session hears nothing of
// it. Replies and pushes arrive in order on the connection: a read's answer
// is cached only if no write of this node and no loss of the connection
// came in between, and a write pushed after the read drops it. While a
// shard's connection is down nothing of that shard is cached, and every
// loss of a connection flushes the whole cache. Entries also expire on
// their own at the key's TTL, measured from before the read.
//
// Write-through: this node's saves go on the same connection where they
// can (see saveThrough), and the cache keeps the record as written, so the
// writer's next read is a hit; the tracking is NOLOOP, so Redis does not
// report those writes back to it.
//
// What remains is the delivery delay: a node serves its entry until the
// invalidation reaches it, typically well under a millisecond after the
// writer's reply. A user who writes on one node and reads on another within
// that time needs a version carried by the client (the minVersion of
// LoadDecoded, read-your-writes).
//
// A NearCache is safe for concurrent use. Close it before its Cluster.
type NearCache struct {
	c        *Cluster
	health   time.Duration
	mu       sync.Mutex // serializes starting trackers
	trackers sync.Map   // *shard.Shard → *tracking.Stream
	ctx      context.Context
	parts    [nearParts]nearPart
	maxLen   int
	maxBytes int64

	hits, misses, invalidations, flushes atomic.Uint64

	refusals        sync.Map // *shard.Shard → error: its last refusal of tracking
	trackingRefused atomic.Uint64

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type nearPart struct {
	mu    sync.RWMutex
	m     map[string]*nearEntry
	bytes int64
}

// nearEntry is a cached session, or (pending) a read in flight. Entries are
// immutable once in the map: they are replaced, never changed.
type nearEntry struct {
	pending bool

	owner   any
	value   any               // decoded by owner's decode; nil until a read decodes fields
	fields  map[string]string // the record as stored, to decode or write through
	version int64
	size    int64
	expires time.Time // zero: no TTL
}

// NearCacheStats are counters since the cache was created.
type NearCacheStats struct {
	Hits, Misses  uint64
	Invalidations uint64 // entries dropped because Redis said their key changed
	Flushes       uint64 // whole-cache flushes (lost connection, FLUSHALL)
	Entries       int    `metric:"gauge"` // a level, not a count (package metrics)
	Bytes         int64  `metric:"gauge"`

	// TrackingRefused counts connection attempts whose HELLO or CLIENT
	// TRACKING the server refused (an ACL without CLIENT, a wrong password,
	// Redis before 6): the shard's sessions are then read uncached.
	TrackingRefused uint64

	// Off names the shards whose server refuses tracking now, each with
	// why: "off: CLIENT refused" when CLIENT is renamed away or denied (as
	// on some managed services), else "off: " and the server's reply.
	// Their sessions are read uncached. ShardsOff counts them.
	Off       map[string]string
	ShardsOff int `metric:"gauge"`
}

// NewNearCache starts a near cache over c: one tracking connection per
// shard, in the background. Until a shard's connection is up, its sessions
// are read from Redis and not cached; Ready waits for all of them.
func NewNearCache(c *Cluster, opt NearCacheOptions) (*NearCache, error) {
	opt.init()
	if opt.MaxEntries < 0 || opt.MaxBytes < 0 || opt.HealthInterval < 0 {
		return nil, fmt.Errorf("%w: negative near cache bound", ErrBadOptions)
	}
	nc := &NearCache{
		c:        c,
		health:   opt.HealthInterval,
		maxLen:   max(1, opt.MaxEntries/nearParts),
		maxBytes: max(1, opt.MaxBytes/nearParts),
	}
	for i := range nc.parts {
		nc.parts[i].m = map[string]*nearEntry{}
	}
	nc.ctx, nc.cancel = context.WithCancel(context.Background())
	for _, sh := range c.Shards() {
		nc.tracker(sh)
	}
	return nc, nil
}

// tracker returns the invalidation stream of sh, starting it the first
// time: shards added to the cluster later get theirs on first use.
func (nc *NearCache) tracker(sh *shard.Shard) *tracking.Stream {
	if t, ok := nc.trackers.Load(sh); ok {
		return t.(*tracking.Stream)
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if t, ok := nc.trackers.Load(sh); ok || nc.ctx.Err() != nil {
		t, _ := t.(*tracking.Stream)
		return t
	}
	t := &tracking.Stream{
		Client:     sh.Primary().Options(),
		Health:     nc.health,
		Invalidate: nc.invalidateKeys,
		Lost:       nc.Flush,
		Refused:    func(err error) { nc.refused(sh, err) },
	}
	nc.trackers.Store(sh, t)
	sh.OnFailover(func(ev failover.Event) {
		if ev.Kind == failover.SwitchMaster {
			t.Reset()
		}
	})
	nc.wg.Go(func() { t.Run(nc.ctx) })
	return t
}

// refused records that sh's server refused tracking, and logs it the first
// time: the cache keeps retrying, but will not cache sh's sessions until
// the server's configuration changes.
func (nc *NearCache) refused(sh *shard.Shard, err error) {
	nc.trackingRefused.Add(1)
	if _, seen := nc.refusals.Swap(sh, err); !seen {
		slog.Warn("near cache: the server refused client tracking; this shard's sessions are read uncached until it accepts",
			"shard", sh.Name(), "err", err)
	}
}

// offReason says why a refused tracking connection leaves a shard
// uncached, in the words of shard.Capabilities.NearCache.
func offReason(err error) string {
	msg := err.Error()
	lower := strings.ToLower(msg)
	if strings.Contains(lower, "client") && (strings.Contains(lower, "unknown command") || strings.Contains(msg, "NOPERM")) {
		return "off: CLIENT refused"
	}
	return "off: " + msg
}

// Ready waits until the invalidation stream of every shard of the cluster
// is up. It fails at once, naming the shard, when a server refused
// tracking and no stream of that shard is up (see
// NearCacheStats.TrackingRefused).
func (nc *NearCache) Ready(ctx context.Context) error {
	for {
		all := true
		for _, sh := range nc.c.Shards() {
			if t := nc.tracker(sh); t == nil {
				return ErrNearCacheClosed
			} else if !t.Up() {
				if err, refused := nc.refusals.Load(sh); refused {
					return fmt.Errorf("shardsession: near cache not ready: shard %s refused client tracking: %w", sh.Name(), err.(error))
				}
				all = false
			}
		}
		if all {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shardsession: near cache not ready: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close stops the tracking connections and empties the cache. It does not
// close the Cluster.
func (nc *NearCache) Close() error {
	nc.mu.Lock()
	nc.cancel()
	nc.mu.Unlock()
	nc.wg.Wait()
	nc.Flush()
	return nil
}

func (nc *NearCache) part(id string) *nearPart {
	return &nc.parts[xxhash.Sum64String(id)%nearParts]
}

// LoadDecoded returns the session id decoded by decode, from the cache when
// a valid entry of owner with at least minVersion is there, else from the
// shard's primary (and then caches it). decode gets the record's fields and
// returns the value to share and its size in bytes; the value is handed to
// every later caller of the same owner, so it must be treated as immutable.
// owner keeps apart callers whose decode functions differ (one session
// Manager each). A missing record is found == false and is not cached.
func (nc *NearCache) LoadDecoded(ctx context.Context, id string, owner any, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (v any, found bool, err error) {
	p := nc.part(id)
	p.mu.RLock()
	e := p.m[id]
	p.mu.RUnlock()
	if e != nil && !e.pending && e.version >= minVersion && (e.expires.IsZero() || time.Now().Before(e.expires)) {
		if e.owner == owner && e.value != nil {
			nc.hits.Add(1)
			return e.value, true, nil
		}
		if e.fields != nil {
			// Written through by this node, or decoded by another owner:
			// the record is here, only its decoding is not.
			nc.hits.Add(1)
			return nc.decodeCached(p, id, e, owner, decode)
		}
	}
	nc.misses.Add(1)
	if s := nc.c.snap.Load(); s.move.slow && (s.move.prev != nil || nc.c.checkLease(s) != nil) {
		// A topology change runs (the session may still be on its
		// previous owner) or this node's topology lease ran out: the
		// Cluster's Load knows what to do.
		return nc.loadUncached(ctx, id, minVersion, decode)
	}

	return nc.fetch(ctx, p, id, owner, minVersion, decode)
}

// fetch reads id from its shard's primary on the shard's tracking stream
// (so that Redis tracks the key for this node) and caches it, unless an
// invalidation or a loss of the stream came in meanwhile.
func (nc *NearCache) fetch(ctx context.Context, p *nearPart, id string, owner any, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (v any, found bool, err error) {
	// While shards are being added or removed, a record may still be on
	// its previous owner: reads go through the Cluster's read-through and
	// nothing is cached until the move is over.
	if s := nc.c.snap.Load(); s.move.prev != nil {
		return nc.loadUncached(ctx, id, minVersion, decode)
	}
	t := nc.tracker(nc.c.ShardFor(id))
	if t == nil {
		return nc.loadUncached(ctx, id, minVersion, decode)
	}
	// Reserve the entry before asking Redis: this node's own write of the
	// session, or a flush, removes the reservation, and the answer is then
	// not cached. Other nodes' writes are ordered by the stream itself:
	// those before the read are applied before its reply, those after it
	// are pushed after it (afterFetch).
	hold := &nearEntry{pending: true}
	p.mu.Lock()
	p.replaceLocked(id, hold)
	p.mu.Unlock()

	start := time.Now()
	key := nc.c.Key(id)
	var e *nearEntry
	_, err = t.DoMulti(ctx, func(r []any) { e = nc.afterFetch(p, id, hold, r, start) },
		[]string{"HGETALL", key}, []string{"PTTL", key})
	if err != nil || e == nil {
		// The stream is down or failed (the primary with it, likely), or
		// the record is unknown, expired or just moved away by a topology
		// change: read the way the Cluster does, replicas included, and
		// cache nothing.
		nc.release(p, id, hold)
		return nc.loadUncached(ctx, id, minVersion, decode)
	}
	return nc.decodeCached(p, id, e, owner, decode)
}

// afterFetch runs when the stream reads the replies of fetch's HGETALL and
// PTTL of id: it puts the record in hold's place, if hold is still there,
// and returns it; nil when there is no record.
func (nc *NearCache) afterFetch(p *nearPart, id string, hold *nearEntry, r []any, start time.Time) *nearEntry {
	flat, _ := r[0].([]any)
	ttl, _ := r[1].(int64)
	if len(flat) == 0 || len(flat)%2 != 0 || ttl == -2 {
		return nil
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		fields[f] = v
	}
	e := &nearEntry{fields: fields, version: store.Version(fields), size: recordSize(id, fields)}
	if ttl > 0 {
		e.expires = start.Add(time.Duration(ttl) * time.Millisecond)
	}
	p.mu.Lock()
	if p.m[id] == hold {
		p.replaceLocked(id, e)
		nc.evictLocked(p, id)
	}
	p.mu.Unlock()
	return e
}

// decodeCached decodes the cached record of e for owner and keeps the
// result in e's place, unless e was replaced meanwhile.
func (nc *NearCache) decodeCached(p *nearPart, id string, e *nearEntry, owner any,
	decode func(fields map[string]string) (v any, size int, err error)) (any, bool, error) {
	v, size, err := decode(e.fields)
	if err != nil {
		p.mu.Lock()
		if p.m[id] == e {
			p.replaceLocked(id, nil) // not a session this owner can read
		}
		p.mu.Unlock()
		return nil, false, err
	}
	d := &nearEntry{owner: owner, value: v, fields: e.fields, version: e.version, expires: e.expires,
		size: int64(size+len(id)) + entryOverhead}
	p.mu.Lock()
	if p.m[id] == e {
		p.replaceLocked(id, d)
		nc.evictLocked(p, id)
	}
	p.mu.Unlock()
	return v, true, nil
}

// loadUncached reads id through the Cluster, with its read policy and
// failover, and decodes it without caching.
func (nc *NearCache) loadUncached(ctx context.Context, id string, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (any, bool, error) {
	fields, found, err := nc.c.Load(ctx, id, store.LoadOptions{MinVersion: minVersion})
	if err != nil || !found {
		return nil, false, err
	}
	v, _, err := decode(fields)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// release drops the reservation hold of id, if it is still there.
func (nc *NearCache) release(p *nearPart, id string, hold *nearEntry) {
	if hold == nil {
		return
	}
	p.mu.Lock()
	if p.m[id] == hold {
		p.replaceLocked(id, nil)
	}
	p.mu.Unlock()
}

// replaceLocked puts e (nil: nothing) under id, keeping the byte count.
func (p *nearPart) replaceLocked(id string, e *nearEntry) {
	if old := p.m[id]; old != nil {
		p.bytes -= old.size
	}
	if e == nil {
		delete(p.m, id)
		return
	}
	p.m[id] = e
	p.bytes += e.size
}

// evictLocked drops arbitrary entries other than keep until p is within
// its bounds. Go's map order is random, which makes this random eviction:
// cheap, and for sessions (many, each hot for a while) close to LRU.
func (nc *NearCache) evictLocked(p *nearPart, keep string) {
	for id := range p.m {
		if len(p.m) <= nc.maxLen && p.bytes <= nc.maxBytes {
			return
		}
		if id != keep {
			p.replaceLocked(id, nil)
		}
	}
}

// Invalidate drops the entry of id.
func (nc *NearCache) Invalidate(id string) {
	p := nc.part(id)
	p.mu.Lock()
	p.replaceLocked(id, nil)
	p.mu.Unlock()
}

// invalidateKeys handles an invalidation message; nil means every key.
func (nc *NearCache) invalidateKeys(keys []string) {
	if keys == nil {
		nc.Flush()
		return
	}
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, nc.c.prefix); ok {
			nc.Invalidate(id)
			nc.invalidations.Add(1)
		}
	}
}

// Flush empties the cache, reservations included.
func (nc *NearCache) Flush() {
	nc.flushes.Add(1)
	for i := range nc.parts {
		p := &nc.parts[i]
		p.mu.Lock()
		clear(p.m)
		p.bytes = 0
		p.mu.Unlock()
	}
}

// Stats returns the cache's counters and current size.
func (nc *NearCache) Stats() NearCacheStats {
	s := NearCacheStats{
		Hits:          nc.hits.Load(),
		Misses:        nc.misses.Load(),
		Invalidations: nc.invalidations.Load(),
		Flushes:       nc.flushes.Load(),

		TrackingRefused: nc.trackingRefused.Load(),
	}
	nc.refusals.Range(func(k, v any) bool {
		sh := k.(*shard.Shard)
		if t, ok := nc.trackers.Load(sh); ok && !t.(*tracking.Stream).Up() {
			if s.Off == nil {
				s.Off = map[string]string{}
			}
			s.Off[sh.Name()] = offReason(v.(error))
			s.ShardsOff++
		}
		return true
	})
	for i := range nc.parts {
		p := &nc.parts[i]
		p.mu.RLock()
		for _, e := range p.m {
			if !e.pending {
				s.Entries++
			}
		}
		s.Bytes += p.bytes
		p.mu.RUnlock()
	}
	return s
}

// Load implements session.Store: it reads the record's fields from the
// Cluster, uncached (LoadDecoded is the cached path).
func (nc *NearCache) Load(ctx context.Context, id string, opt store.LoadOptions) (map[string]string, bool, error) {
	return nc.c.Load(ctx, id, opt)
}

// Save implements session.Store. Where it can, it writes on the shard's
// tracking stream and keeps what it wrote (write-through, see saveThrough):
// this node's next read of the session is a hit. Otherwise it writes
// through the Cluster and drops this node's entry at once rather than
// waiting for Redis's invalidation.
func (nc *NearCache) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	if v, err, sent := nc.saveThrough(ctx, id, w); sent {
		return v, err
	}
	v, err := nc.c.Save(ctx, id, w)
	nc.Invalidate(id)
	return v, err
}

// saveThrough runs the save script on the tracking stream of id's shard,
// and reports whether it did (sent false: nothing was sent, use the
// Cluster). It does not when the stream is down, while the topology
// changes or this node's topology lease has run out, or when
// Durability.SaveReplicas asks for WAIT (which would hold the stream).
//
// Why the stream: its tracking is NOLOOP, so Redis does not report this
// write back to this node, and the reply comes in order with the
// invalidations. When the reply is read, every invalidation of a write
// that ran before this one has been applied, and none after it: if the
// entry this write was made against is still in place, nothing else wrote
// the record in between, and the entry's fields with this write applied
// are exactly the record Redis now holds (afterSave). A write by anyone
// after it is pushed later and drops the new entry as usual.
func (nc *NearCache) saveThrough(ctx context.Context, id string, w store.Write) (int64, error, bool) {
	if nc.c.durability.SaveReplicas > 0 {
		return 0, nil, false
	}
	if s := nc.c.snap.Load(); s.move.slow && (s.move.prev != nil || nc.c.checkLease(s) != nil) {
		return 0, nil, false // as in LoadDecoded: the Cluster's Save knows what to do
	}
	sh := nc.c.ShardFor(id)
	t := nc.tracker(sh)
	if t == nil {
		return 0, nil, false
	}
	if w.ID == "" {
		w.ID = scripts.NewWriteID() // afterSave puts it in the cached record
	}
	args, err := scripts.SaveArgs(nc.c.bounded(w))
	if err != nil {
		return 0, err, true
	}
	p := nc.part(id)
	p.mu.RLock()
	base := p.m[id]
	p.mu.RUnlock()
	cmd := make([]string, 0, 4+len(args))
	cmd = append(cmd, "EVALSHA", scripts.Save.Hash(), "1", nc.c.Key(id))
	for _, a := range args {
		cmd = append(cmd, argString(a))
	}
	after := func(reply any) { nc.afterSave(p, id, w, base, reply) }
	reply, err := t.Do(ctx, after, cmd...)
	if err != nil && isNoScript(err) {
		// The script is not in this server's cache yet (a new or
		// restarted primary): load it once, then send again.
		if err = sh.Wrap(scripts.Save.Load(ctx, sh.Primary()).Err()); err == nil {
			reply, err = t.Do(ctx, after, cmd...)
		}
	}
	switch {
	case errors.Is(err, tracking.ErrDown):
		return 0, nil, false
	case errors.Is(err, tracking.ErrLost):
		// It may or may not have run: send it again the usual way. Its
		// write ID makes a second run report the first one's version.
		v, err := nc.c.saveOn(ctx, sh, id, args)
		nc.Invalidate(id)
		return v, err, true
	case err != nil:
		nc.Invalidate(id)
		return 0, sh.Fail(err), true
	}
	version, ok := reply.(int64)
	if !ok {
		nc.Invalidate(id)
		return 0, fmt.Errorf("shard %s: save answered %v", sh.Name(), reply), true
	}
	v, err := savedVersion(sh, version)
	return v, err, true
}

// afterSave runs when the stream reads the reply of a save of id made
// against the entry base (see saveThrough): it puts the record as written
// in the cache, or drops the entry when it cannot know the record.
func (nc *NearCache) afterSave(p *nearPart, id string, w store.Write, base *nearEntry, reply any) {
	version, _ := reply.(int64)
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.m[id]
	var fields map[string]string
	switch {
	case version <= 0:
		// Refused (gone, exists, conflict) or failed: nothing written.
	case w.Mode == store.Create:
		fields = make(map[string]string, len(w.Set)+1)
	case cur != nil && cur == base && cur.fields != nil && !cur.pending:
		fields = maps.Clone(cur.fields)
		for _, f := range w.Del {
			delete(fields, f)
		}
	}
	if fields == nil {
		p.replaceLocked(id, nil)
		return
	}
	for f, v := range w.Set {
		fields[f] = string(v)
	}
	fields[store.VersionField] = strconv.FormatInt(version, 10)
	if w.Mode != store.Touch {
		fields[store.WriteField] = w.ID
	}
	p.replaceLocked(id, &nearEntry{fields: fields, version: version, expires: w.ExpireAt, size: recordSize(id, fields)})
	nc.evictLocked(p, id)
}

// recordSize is the size counted for an entry of id holding only the
// record's fields (no decoded value yet).
func recordSize(id string, fields map[string]string) int64 {
	size := len(id) + entryOverhead
	for f, v := range fields {
		size += len(f) + len(v)
	}
	return int64(size)
}

// isNoScript reports whether err is Redis saying it does not know a
// script's SHA.
func isNoScript(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "NOSCRIPT")
}

// argString is a save script argument as the stream sends it.
func argString(a any) string {
	switch a := a.(type) {
	case string:
		return a
	case []byte:
		return string(a)
	case int:
		return strconv.Itoa(a)
	case int64:
		return strconv.FormatInt(a, 10)
	}
	return fmt.Sprint(a)
}

// Delete implements session.Store, like Save.
func (nc *NearCache) Delete(ctx context.Context, id string) error {
	err := nc.c.Delete(ctx, id)
	nc.Invalidate(id)
	return err
}

// Locate returns the name of the shard that owns the session id.
func (nc *NearCache) Locate(id string) string { return nc.c.Locate(id) }

// Cluster returns the cluster the cache is in front of.
func (nc *NearCache) Cluster() *Cluster { return nc.c }

// Unwrap returns the cluster the cache is in front of, as a store.Store:
// package session looks there for the capabilities a cache does not add
// (store.Unwrapper).
func (nc *NearCache) Unwrap() store.Store { return nc.c }
