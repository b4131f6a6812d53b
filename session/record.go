package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/shardsession/shardsession/store"
)

// Field names of a session record (one Redis hash). Values are stored under
// valuePrefix + key; the bookkeeping fields start with "_" so they can never
// collide with a value.
const (
	createdField  = "_c" // creation time, unix ms
	deadlineField = "_d" // absolute deadline, unix ms
	seenField     = "_s" // last time the idle expiry was pushed forward, unix ms
	valuePrefix   = "v:"
)

func unixMilli(t time.Time) []byte { return strconv.AppendInt(nil, t.UnixMilli(), 10) }

func parseMilli(fields map[string]string, name string) (time.Time, error) {
	ms, err := strconv.ParseInt(fields[name], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %s: %w", name, err)
	}
	return time.UnixMilli(ms), nil
}

// decode turns a loaded record into session data.
func (m *Manager) decode(fields map[string]string) (*data, error) {
	d := &data{values: map[string]any{}, sizes: map[string]int{}, changed: map[string]bool{}}
	var err error
	if d.created, err = parseMilli(fields, createdField); err != nil {
		return nil, err
	}
	if d.deadline, err = parseMilli(fields, deadlineField); err != nil {
		return nil, err
	}
	if d.seen, err = parseMilli(fields, seenField); err != nil {
		return nil, err
	}
	d.version, d.write = store.Version(fields), fields[store.WriteField]
	d.meta.decode(fields)
	for f, raw := range fields {
		key, ok := strings.CutPrefix(f, valuePrefix)
		if !ok {
			continue
		}
		v, err := m.Codec.Decode([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("value %q: %w", key, err)
		}
		d.values[key] = v
		d.sizes[key] = len(raw)
	}
	return d, nil
}

// decodes checks that the Codec will decode b, which it encoded: a value
// that encodes but does not decode (JSON or MessagePack nested deeper than
// their decoders allow) would make the session unreadable. Gob decodes what
// it encodes and is not checked; JSON is checked by json.Valid, which
// enforces the decoder's nesting limit without decoding; other codecs
// decode.
func (m *Manager) decodes(b []byte) error {
	switch m.Codec.(type) {
	case GobCodec:
		return nil
	case JSONCodec:
		if !json.Valid(b) {
			return errors.New("invalid JSON (nested too deep?)")
		}
		return nil
	}
	_, err := m.Codec.Decode(b)
	return err
}

// encodeValues encodes the values named by keys into set, and returns the
// encoded size of the whole session afterwards (values not in keys counted
// at their loaded size).
func (m *Manager) encodeValues(d *data, keys func(yield func(string) bool), set map[string][]byte) (int, error) {
	for k := range keys {
		v, ok := d.value(k)
		if !ok {
			continue
		}
		d.own()
		b, err := m.Codec.Encode(v)
		if err != nil {
			return 0, fmt.Errorf("%w: encode value %q: %w", ErrBadValue, k, err)
		}
		if err := m.decodes(b); err != nil {
			return 0, fmt.Errorf("%w: value %q encodes but would not decode: %w", ErrBadValue, k, err)
		}
		set[valuePrefix+k] = b
		d.sizes[k] = len(b)
	}
	return d.encodedSize(), nil
}
