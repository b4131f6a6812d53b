package nearcache

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/internal/tracking"
	"github.com/shardsession/shardsession/store"
)

// Save writes w to the session id. Where it can, it writes on the stream of
// the server that holds id and keeps what it wrote (write-through, see
// saveThrough): this node's next read of the session is a hit. Otherwise,
// and for a session the cache does not take in (admission.go), it writes
// through the backend and drops this node's entry at once rather than
// waiting for Redis's invalidation.
func (c *Cache) Save(ctx context.Context, id string, w store.Write) (int64, error) {
	if c.admits(id) {
		if v, err, sent := c.saveThrough(ctx, id, w); sent {
			return v, err
		}
	}
	v, err := c.b.Save(ctx, id, w)
	c.Invalidate(id)
	return v, err
}

// Delete removes the session id through the backend and drops this node's
// entry.
func (c *Cache) Delete(ctx context.Context, id string) error {
	err := c.b.Delete(ctx, id)
	c.Invalidate(id)
	return err
}

// saveThrough runs the save script on the stream of id's server, and
// reports whether it did (sent false: nothing was sent, use the backend).
// It does not when the backend gives no stream (Backend.Stream).
//
// Why the stream: its tracking is NOLOOP, so Redis does not report this
// write back to this node, and the reply comes in order with the
// invalidations. When the reply is read, every invalidation of a write
// that ran before this one has been applied, and none after it: if the
// entry this write was made against is still in place, nothing else wrote
// the record in between, and the entry's fields with this write applied
// are exactly the record Redis now holds (afterSave). A write by anyone
// after it is pushed later and drops the new entry as usual.
func (c *Cache) saveThrough(ctx context.Context, id string, w store.Write) (int64, error, bool) {
	t := c.b.Stream(ctx, id, true)
	if t == nil {
		return 0, nil, false
	}
	if w.ID == "" {
		w.ID = scripts.NewWriteID() // afterSave puts it in the cached record
	}
	w = c.b.Bound(w)
	args, err := scripts.SaveArgs(w)
	if err != nil {
		return 0, err, true
	}
	p := c.part(id)
	p.mu.RLock()
	base := p.m[id]
	p.mu.RUnlock()
	cmd := make([]string, 0, 4+len(args))
	cmd = append(cmd, "EVALSHA", scripts.Save.Hash(), "1", c.b.Key(id))
	for _, a := range args {
		cmd = append(cmd, argString(a))
	}
	after := func(reply any) { c.afterSave(p, t, id, w, base, reply) }
	reply, err := t.Do(ctx, after, cmd...)
	if err != nil && isNoScript(err) {
		// The script is not in this server's cache yet (a new or
		// restarted server): load it once, then send again.
		if err = c.b.LoadScript(ctx, id); err == nil {
			reply, err = t.Do(ctx, after, cmd...)
		}
	}
	switch {
	case errors.Is(err, tracking.ErrDown):
		return 0, nil, false
	case errors.Is(err, tracking.ErrLost):
		// It may or may not have run: send it again the usual way. Its
		// write ID makes a second run report the first one's version.
		v, err := c.b.Save(ctx, id, w)
		c.Invalidate(id)
		return v, err, true
	case err != nil:
		c.Invalidate(id)
		if resend, err := c.b.SaveFailed(id, err); !resend {
			return 0, err, true
		}
		v, err := c.b.Save(ctx, id, w)
		return v, err, true
	}
	version, ok := reply.(int64)
	if !ok {
		c.Invalidate(id)
		return 0, fmt.Errorf("%s of %s: save answered %v", c.what, id, reply), true
	}
	v, err := c.b.SaveReply(id, version)
	return v, err, true
}

// afterSave runs when the stream reads the reply of a save of id made
// against the entry base (see saveThrough): it puts the record as written
// in the cache, or drops the entry when it cannot know the record.
func (c *Cache) afterSave(p *part, t *tracking.Stream, id string, w store.Write, base *entry, reply any) {
	version, _ := reply.(int64)
	p.mu.Lock()
	defer p.mu.Unlock()
	cur := p.m[id]
	var fields map[string]string
	hits := new(atomic.Int64) // a session new to the cache
	switch {
	case version <= 0:
		// Refused (gone, exists, conflict) or failed: nothing written.
	case w.Mode == store.Create:
		fields = make(map[string]string, len(w.Set)+1)
	case cur != nil && cur == base && cur.fields != nil && !cur.pending:
		fields = maps.Clone(cur.fields)
		hits = cur.hits // the same session: its count goes on
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
	p.replaceLocked(id, &entry{fields: fields, stream: t, version: version, expires: w.ExpireAt, size: recordSize(id, fields), hits: hits})
	c.evictLocked(p, id)
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
