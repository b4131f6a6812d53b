package session

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"
)

// DecodedLoader is an optional Store capability: a near cache of decoded
// sessions, such as *cluster.NearCache. When the Store has it, the Manager
// loads through it, and a session decoded by one request is handed to the
// next without a round trip to Redis or a decode.
//
// LoadDecoded returns the value decode made of the record's fields, from
// the cache when it holds one for owner at version ≥ minVersion. The value
// is shared between requests; the Manager never changes it.
type DecodedLoader interface {
	LoadDecoded(ctx context.Context, id string, owner any, minVersion int64,
		decode func(fields map[string]string) (v any, size int, err error)) (v any, found bool, err error)
}

// sharedSession is a decoded session as a near cache holds it: read by many
// requests at once, changed by none. A request reads it in place and copies
// it on its first change (data.own); a Put never reaches the shared copy.
type sharedSession struct {
	created, deadline, seen time.Time
	version                 int64
	write                   string
	values                  map[string]sharedValue
	immutable               bool // every value is shared decoded (no raw)
}

// sharedValue is a session value as decoded (v) when it is immutable, so
// that handing the same one to every request is safe; otherwise its encoded
// form (raw), which each request decodes for itself: a handler that changes
// a map or slice it got from Get in place must not change other requests'.
type sharedValue struct {
	v    any
	raw  string
	size int
}

// loadShared loads the session id through dl, at least at minVersion (the
// client's last version; unknownVersion when it is not known); nil when
// there is none.
func (m *Manager) loadShared(ctx context.Context, dl DecodedLoader, id string, minVersion int64) (*data, error) {
	v, found, err := dl.LoadDecoded(ctx, id, m, minVersion, m.decodeSharedFn)
	if err != nil || !found {
		return nil, err
	}
	s := v.(*sharedSession)
	d := &data{created: s.created, deadline: s.deadline, seen: s.seen, version: s.version, write: s.write}
	if s.immutable {
		d.shared = s // read in place until the request changes something
		return d, nil
	}
	d.values = make(map[string]any, len(s.values))
	d.sizes = make(map[string]int, len(s.values))
	for k, sv := range s.values {
		val := sv.v
		if sv.raw != "" {
			if val, err = m.Codec.Decode([]byte(sv.raw)); err != nil {
				return nil, fmt.Errorf("%w: value %q: %w", ErrCorrupt, k, err)
			}
		}
		d.values[k] = val
		d.sizes[k] = sv.size
	}
	return d, nil
}

// decodeShared is the decode function handed to a DecodedLoader.
func (m *Manager) decodeShared(fields map[string]string) (any, int, error) {
	d, err := m.decode(fields)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	s := &sharedSession{created: d.created, deadline: d.deadline, seen: d.seen, version: d.version, write: d.write,
		values: make(map[string]sharedValue, len(d.values)), immutable: true}
	size := 0
	for f, v := range fields {
		size += len(f) + len(v)
	}
	for k, v := range d.values {
		sv := sharedValue{size: d.sizes[k]}
		if immutable(v) {
			sv.v = v
		} else {
			sv.raw = fields[valuePrefix+k]
			size += sv.size // it is kept encoded as well
			s.immutable = false
		}
		s.values[k] = sv
	}
	return s, size, nil
}

var timeType = reflect.TypeFor[time.Time]()

// immutableTypes caches immutableType per dynamic type.
var immutableTypes sync.Map // reflect.Type → bool

// immutable reports whether v can be shared between goroutines that may
// each do anything with their copy: true for values that hold no pointer,
// map, slice, channel or function (basic types, and arrays and structs of
// them), and for time.Time.
func immutable(v any) bool {
	switch v.(type) {
	case nil, string, bool, int, int64, int32, uint64, float64, time.Time, time.Duration:
		return true
	}
	t := reflect.TypeOf(v)
	if ok, found := immutableTypes.Load(t); found {
		return ok.(bool)
	}
	ok := immutableType(t, 0)
	immutableTypes.Store(t, ok)
	return ok
}

func immutableType(t reflect.Type, depth int) bool {
	if t == timeType {
		return true
	}
	if depth > 10 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return immutableType(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !immutableType(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}
