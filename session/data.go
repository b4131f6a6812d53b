package session

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/shardsession/shardsession/store"
)

// Status says what a request has done to its session.
type Status int

const (
	// Unmodified: nothing to save (the idle expiry may still be touched).
	Unmodified Status = iota
	// Modified: values changed, or the token was renewed; Commit saves.
	Modified
	// Destroyed: the session was deleted; Commit expires the cookie.
	Destroyed
)

// data is the session of one request. Its mutex lets a handler share the
// request's context with goroutines it starts.
type data struct {
	mu sync.Mutex

	token    string // "" until a new session is first saved
	oldToken string // the stored token that RenewToken replaces at Commit
	stored   bool   // the record exists in the Store under token

	values  map[string]any
	sizes   map[string]int  // encoded sizes of values as loaded
	changed map[string]bool // keys Put or removed since Load; nil until one is

	// shared, when set, is the near cache's decoded session that this
	// request reads in place of values and sizes (both nil until own):
	// most requests only read, and a read then copies nothing.
	shared *sharedSession

	created  time.Time
	deadline time.Time
	seen     time.Time
	version  int64
	write    string // the ID of the write that made version (store.WriteField); "" if unknown
	status   Status

	read store.ReadInfo // which node served the load

	meta // user, remember-me, read-only, lock: see meta.go
}

func newData(now time.Time, lifetime time.Duration) *data {
	return &data{
		values:   map[string]any{},
		sizes:    map[string]int{},
		changed:  map[string]bool{},
		created:  now,
		deadline: now.Add(lifetime),
		seen:     now,
	}
}

// value returns the value of key and whether the session has it.
func (d *data) value(key string) (any, bool) {
	if d.shared != nil {
		sv, ok := d.shared.values[key]
		return sv.v, ok
	}
	v, ok := d.values[key]
	return v, ok
}

// numValues returns how many values the session holds.
func (d *data) numValues() int {
	if d.shared != nil {
		return len(d.shared.values)
	}
	return len(d.values)
}

// encodedSize returns the encoded size of the session's values as loaded
// or last encoded, keys included.
func (d *data) encodedSize() int {
	size := 0
	if d.shared != nil {
		for k, sv := range d.shared.values {
			size += len(k) + sv.size
		}
		return size
	}
	for k := range d.values {
		size += len(k) + d.sizes[k]
	}
	return size
}

// own gives d maps of its own, copied from the shared session it reads,
// before anything changes them.
func (d *data) own() {
	s := d.shared
	if s == nil {
		return
	}
	d.values = make(map[string]any, len(s.values))
	d.sizes = make(map[string]int, len(s.values))
	for k, sv := range s.values {
		d.values[k], d.sizes[k] = sv.v, sv.size
	}
	d.shared = nil
}

// markChanged records that key was Put or removed. The map is made on the
// first change: most requests only read.
func (d *data) markChanged(key string) {
	if d.changed == nil {
		d.changed = map[string]bool{}
	}
	d.changed[key] = true
}

type contextKey struct{ m *Manager }

func (m *Manager) data(ctx context.Context) *data {
	d, ok := ctx.Value(contextKey{m}).(*data)
	if !ok {
		panic("shardsession: no session in context; wrap the handler with Manager.LoadAndSave or call Manager.Load")
	}
	return d
}

// Get returns the value of key, or nil.
func (m *Manager) Get(ctx context.Context, key string) any {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	v, _ := d.value(key)
	return v
}

// GetString returns the value of key if it is a string, or "".
func (m *Manager) GetString(ctx context.Context, key string) string {
	s, _ := m.Get(ctx, key).(string)
	return s
}

// GetInt returns the value of key if it is an int, or 0.
func (m *Manager) GetInt(ctx context.Context, key string) int {
	i, _ := m.Get(ctx, key).(int)
	return i
}

// Put sets key to val. Put after Destroy starts a new session.
func (m *Manager) Put(ctx context.Context, key string, val any) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.own()
	d.values[key] = val
	d.markChanged(key)
	d.status = Modified
}

// Pop returns the value of key and removes it (a flash message).
func (m *Manager) Pop(ctx context.Context, key string) any {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.value(key)
	if ok {
		d.removeLocked(key)
	}
	return v
}

// PopString is Pop for a string value; "" if key is absent or not a string.
func (m *Manager) PopString(ctx context.Context, key string) string {
	s, _ := m.Pop(ctx, key).(string)
	return s
}

// Remove deletes key from the session.
func (m *Manager) Remove(ctx context.Context, key string) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.value(key); ok {
		d.removeLocked(key)
	}
}

func (d *data) removeLocked(key string) {
	d.own()
	delete(d.values, key)
	d.markChanged(key)
	d.status = Modified
}

// Exists reports whether key is in the session.
func (m *Manager) Exists(ctx context.Context, key string) bool {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.value(key)
	return ok
}

// Keys returns the session's keys, sorted.
func (m *Manager) Keys(ctx context.Context) []string {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	keys := make([]string, 0, d.numValues())
	if d.shared != nil {
		for k := range d.shared.values {
			keys = append(keys, k)
		}
	}
	for k := range d.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Status reports what the request has done to its session so far.
func (m *Manager) Status(ctx context.Context) Status {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status
}

// Deadline returns the session's absolute deadline.
func (m *Manager) Deadline(ctx context.Context) time.Time {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.deadline
}

// Shard returns the name of the shard that holds the session, if the Store
// can tell (see Locator) and the session has been saved.
func (m *Manager) Shard(ctx context.Context) (string, bool) {
	loc, ok := m.Store.(Locator)
	if !ok {
		return "", false
	}
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.token == "" {
		return "", false
	}
	return loc.Locate(storeID(d.token)), true
}
