package nearcache

// Stats are a cache's counters since it was created.
type Stats struct {
	Hits, Misses  uint64
	Invalidations uint64 // entries dropped because Redis said their key changed
	Flushes       uint64 // whole-cache flushes (lost connection, FLUSHALL)
	// Checks counts the PINGs sent before a hit on a stream that had been
	// silent for a health interval (the streams' only health check).
	Checks  uint64
	Entries int   `metric:"gauge"` // a level, not a count (package metrics)
	Bytes   int64 `metric:"gauge"`

	// Dropped counts the cached sessions Redis told the cache to drop
	// (another node's write, a delete, an expiry), and DroppedHits the
	// hits they had served on this node: DroppedHits / Dropped is the
	// reuse by which the cache decides what to take in (Options.MinReuse).
	Dropped, DroppedHits uint64
	// Bypasses counts the times the reuse fell below MinReuse and the
	// cache stopped taking sessions in but for its sample of one in sixteen;
	// Bypassing is 1 while it does so, else 0.
	Bypasses  uint64
	Bypassing int `metric:"gauge"`

	// TrackingRefused counts connection attempts whose HELLO or CLIENT
	// TRACKING the server refused (an ACL without CLIENT, a wrong password,
	// Redis before 6): the server's sessions are then read uncached.
	TrackingRefused uint64

	// Off names the shards (or masters) whose server refuses tracking now,
	// each with why: "off: CLIENT refused" when CLIENT is renamed away or
	// denied (as on some managed services), else "off: " and the server's
	// reply. Their sessions are read uncached. ShardsOff counts them.
	Off       map[string]string
	ShardsOff int `metric:"gauge"`
}

// Stats returns the cache's counters and current size.
func (c *Cache) Stats() Stats {
	s := Stats{
		Hits:          c.hits.Load(),
		Misses:        c.misses.Load(),
		Invalidations: c.invalidations.Load(),
		Flushes:       c.flushes.Load(),
		Checks:        c.checks.Load(),

		TrackingRefused: c.trackingRefused.Load(),

		Dropped:     c.adm.totalDropped.Load(),
		DroppedHits: c.adm.totalHits.Load(),
		Bypasses:    c.adm.bypasses.Load(),
	}
	if c.adm.bypassing.Load() {
		s.Bypassing = 1
	}
	c.refusals.Range(func(k, v any) bool {
		name := k.(string)
		if st, ok := c.streams.Load(name); ok && !st.(*stream).t.Up() {
			if s.Off == nil {
				s.Off = map[string]string{}
			}
			s.Off[name] = offReason(v.(error))
			s.ShardsOff++
		}
		return true
	})
	for i := range c.parts {
		p := &c.parts[i]
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
