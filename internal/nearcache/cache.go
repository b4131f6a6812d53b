package nearcache

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/store"
)

// parts is the number of independently locked parts of the cache.
const parts = 64

// entryOverhead approximates the memory of an entry beyond its value.
const entryOverhead = 96

// Cache is the near cache in front of a Backend. It is safe for
// concurrent use.
type Cache struct {
	b        Backend
	prefix   string // of the keys whose invalidations concern the cache
	what     string // what a stream is named after, for messages: "shard", "master"
	health   time.Duration
	parts    [parts]part
	maxLen   int
	maxBytes int64

	mu      sync.Mutex // serializes starting and dropping streams
	streams sync.Map   // name → *stream
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	hits, misses, invalidations, flushes, checks atomic.Uint64
	adm                                          admission

	refusals        sync.Map // stream name → error: its server's last refusal of tracking
	trackingRefused atomic.Uint64
}

type part struct {
	mu    sync.RWMutex
	m     map[string]*entry
	bytes int64
}

// entry is a cached session, or (pending) a read in flight. Entries are
// immutable once in the map: they are replaced, never changed.
type entry struct {
	pending bool

	owner   any
	value   any               // decoded by owner's decode; nil until a read decodes fields
	fields  map[string]string // the record as stored, to decode or write through
	stream  *tracking.Stream  // the stream that tracks the key: a hit needs it fresh
	version int64
	size    int64
	expires time.Time // zero: none known (see fetch)
	// hits counts the hits on the session since this node read it
	// (shared by the entries that replace one another until Redis drops
	// the session: admission.go).
	hits *atomic.Int64
}

// serves reports whether e can answer a read of owner that needs at least
// minVersion: a record, or its decoding for owner, unexpired.
func (e *entry) serves(owner any, minVersion int64, now time.Time) bool {
	if e == nil || e.pending || e.version < minVersion || !e.expires.IsZero() && !now.Before(e.expires) {
		return false
	}
	return e.owner == owner && e.value != nil || e.fields != nil
}

// New returns an empty cache in front of b, whose session keys start with
// prefix; what names what streams are named after ("shard", "master"), in
// log lines and errors. Streams start as Backend.Stream asks for them.
func New(b Backend, prefix, what string, opt Options) (*Cache, error) {
	opt.init()
	if opt.MaxEntries < 0 || opt.MaxBytes < 0 || opt.HealthInterval < 0 || opt.ReuseWindow < 0 {
		return nil, fmt.Errorf("%w: negative near cache bound", ErrBadOptions)
	}
	c := &Cache{
		b:        b,
		prefix:   prefix,
		what:     what,
		health:   opt.HealthInterval,
		maxLen:   max(1, opt.MaxEntries/parts),
		maxBytes: max(1, opt.MaxBytes/parts),
		adm:      admission{min: opt.MinReuse, window: opt.ReuseWindow},
	}
	for i := range c.parts {
		c.parts[i].m = map[string]*entry{}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Close stops the streams and empties the cache.
func (c *Cache) Close() error {
	c.mu.Lock()
	c.cancel()
	c.mu.Unlock()
	c.wg.Wait()
	c.Flush()
	return nil
}

// hash is a session ID's hash: its low bits choose its part, its top bits
// whether it is in the admission sample.
func hash(id string) uint64 { return xxhash.Sum64String(id) }

func (c *Cache) part(id string) *part { return &c.parts[hash(id)%parts] }

// admits reports whether a miss of id is to be cached (admission.go).
func (c *Cache) admits(id string) bool { return c.adm.admits(hash(id)) }

// LoadDecoded returns the session id decoded by decode, from the cache when
// a valid entry of owner with at least minVersion is there, else from the
// server that holds it (and then caches it). decode gets the record's
// fields and returns the value to share and its size in bytes; the value is
// handed to every later caller of the same owner, so it must be treated as
// immutable. owner keeps apart callers whose decode functions differ (one
// session Manager each). A missing record is found == false and is not
// cached.
func (c *Cache) LoadDecoded(ctx context.Context, id string, owner any, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (v any, found bool, err error) {
	p := c.part(id)
	for checked := false; ; checked = true {
		p.mu.RLock()
		e := p.m[id]
		p.mu.RUnlock()
		now := time.Now()
		if !e.serves(owner, minVersion, now) {
			break
		}
		if !e.stream.Fresh(now) {
			// Nothing heard from the key's server for a health interval:
			// an invalidation may be on its way, or the server hung (and
			// a replica about to take its place). Ask it first.
			if checked {
				break // still silent: read it anew
			}
			c.checks.Add(1)
			if err := e.stream.Check(ctx); err != nil {
				c.misses.Add(1)
				return c.loadUncached(ctx, id, minVersion, decode)
			}
			continue // what the check left in the cache is current
		}
		c.hits.Add(1)
		e.hits.Add(1)
		if e.owner == owner && e.value != nil {
			return e.value, true, nil
		}
		// Written through by this node, or decoded by another owner: the
		// record is here, only its decoding is not.
		return c.decodeCached(p, id, e, owner, decode)
	}
	c.misses.Add(1)
	if !c.admits(id) {
		return c.loadUncached(ctx, id, minVersion, decode)
	}
	return c.fetch(ctx, p, id, owner, minVersion, decode)
}

// fetch reads id on the stream of the server that holds it (so that Redis
// tracks the key for this node) and caches it, unless an invalidation or a
// loss of the stream came in meanwhile.
func (c *Cache) fetch(ctx context.Context, p *part, id string, owner any, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (v any, found bool, err error) {
	t := c.b.Stream(ctx, id, false)
	if t == nil {
		return c.loadUncached(ctx, id, minVersion, decode)
	}
	// Reserve the entry before asking Redis: this node's own write of the
	// session, or a flush, removes the reservation, and the answer is then
	// not cached. Other nodes' writes are ordered by the stream itself:
	// those before the read are applied before its reply, those after it
	// are pushed after it (afterFetch).
	hold := &entry{pending: true}
	p.mu.Lock()
	p.replaceLocked(id, hold)
	p.mu.Unlock()

	// One command per miss: the entry carries no expiry of its own (a
	// PTTL would double the commands of a fleet whose balancer spreads a
	// session's requests, where nearly every read misses). The key's
	// expiry reaches the entry as Redis's invalidation when Redis deletes
	// the key, and the session layer refuses a session past its idle
	// timeout or deadline by its own clock (session.Manager checks every
	// read from a near cache), so no read returns an expired session.
	var e *entry
	_, err = t.Do(ctx, func(r any) { e = c.afterFetch(p, t, id, hold, r) }, "HGETALL", c.b.Key(id))
	if err != nil || e == nil {
		// The stream is down or failed (the server with it, likely), or
		// the record is unknown, expired, or refused with a redirection
		// (its slot moved): read the way the backend does, replicas and
		// retries included, and cache nothing.
		c.release(p, id, hold)
		return c.loadUncached(ctx, id, minVersion, decode)
	}
	return c.decodeCached(p, id, e, owner, decode)
}

// afterFetch runs when the stream reads the reply of fetch's HGETALL of
// id: it puts the record in hold's place, if hold is still there, and
// returns it; nil when there is no record (or an error reply).
func (c *Cache) afterFetch(p *part, t *tracking.Stream, id string, hold *entry, r any) *entry {
	flat, _ := r.([]any)
	if len(flat) == 0 || len(flat)%2 != 0 {
		return nil
	}
	fields := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		f, _ := flat[i].(string)
		v, _ := flat[i+1].(string)
		fields[f] = v
	}
	e := &entry{fields: fields, stream: t, version: store.Version(fields), size: recordSize(id, fields), hits: new(atomic.Int64)}
	p.mu.Lock()
	if p.m[id] == hold {
		p.replaceLocked(id, e)
		c.evictLocked(p, id)
	}
	p.mu.Unlock()
	return e
}

// decodeCached decodes the cached record of e for owner and keeps the
// result in e's place, unless e was replaced meanwhile.
func (c *Cache) decodeCached(p *part, id string, e *entry, owner any,
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
	d := &entry{owner: owner, value: v, fields: e.fields, stream: e.stream, version: e.version, expires: e.expires,
		size: int64(size+len(id)) + entryOverhead, hits: e.hits}
	p.mu.Lock()
	if p.m[id] == e {
		p.replaceLocked(id, d)
		c.evictLocked(p, id)
	}
	p.mu.Unlock()
	return v, true, nil
}

// loadUncached reads id through the backend, with its read policy and
// failover, and decodes it without caching.
func (c *Cache) loadUncached(ctx context.Context, id string, minVersion int64,
	decode func(fields map[string]string) (v any, size int, err error)) (any, bool, error) {
	fields, found, err := c.b.Load(ctx, id, store.LoadOptions{MinVersion: minVersion})
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
func (c *Cache) release(p *part, id string, hold *entry) {
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
func (p *part) replaceLocked(id string, e *entry) {
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
func (c *Cache) evictLocked(p *part, keep string) {
	for id := range p.m {
		if len(p.m) <= c.maxLen && p.bytes <= c.maxBytes {
			return
		}
		if id != keep {
			p.replaceLocked(id, nil)
		}
	}
}

// Invalidate drops the entry of id.
func (c *Cache) Invalidate(id string) { c.drop(id) }

// drop drops the entry of id and returns it (nil: there was none).
func (c *Cache) drop(id string) *entry {
	p := c.part(id)
	p.mu.Lock()
	e := p.m[id]
	p.replaceLocked(id, nil)
	p.mu.Unlock()
	return e
}

// invalidateKeys handles an invalidation message; nil means every key.
// Each session it drops is scored for admission.
func (c *Cache) invalidateKeys(keys []string) {
	if keys == nil {
		c.Flush()
		return
	}
	for _, k := range keys {
		if id, ok := strings.CutPrefix(k, c.prefix); ok {
			if e := c.drop(id); e != nil && !e.pending {
				c.adm.drop(e.hits.Load(), Sampled(id))
			}
			c.invalidations.Add(1)
		}
	}
}

// Flush empties the cache, reservations included.
func (c *Cache) Flush() {
	c.flushes.Add(1)
	for i := range c.parts {
		p := &c.parts[i]
		p.mu.Lock()
		clear(p.m)
		p.bytes = 0
		p.mu.Unlock()
	}
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
