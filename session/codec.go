package session

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"time"
)

// Go's basic types need no registration with gob; these common composite
// ones are registered so they work out of the box too.
func init() {
	gob.Register(map[string]any{})
	gob.Register(map[string]string{})
	gob.Register([]any{})
	gob.Register([]string{})
	gob.Register(time.Time{})
}

// Codec encodes one session value. Each value is encoded on its own, so that
// a save writes only the values that changed.
type Codec interface {
	Encode(v any) ([]byte, error)
	Decode(b []byte) (any, error)
}

// GobCodec encodes values with encoding/gob, keeping their Go types. Types
// other than Go's basic ones must be registered with gob.Register.
type GobCodec struct{}

// Encode implements Codec.
func (GobCodec) Encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decode implements Codec.
func (GobCodec) Decode(b []byte) (any, error) {
	var v any
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// JSONCodec encodes values as JSON, readable by programs in other languages.
// Decoded values have JSON's types: numbers come back as float64, objects as
// map[string]any.
type JSONCodec struct{}

// Encode implements Codec.
func (JSONCodec) Encode(v any) ([]byte, error) { return json.Marshal(v) }

// Decode implements Codec.
func (JSONCodec) Decode(b []byte) (any, error) {
	var v any
	err := json.Unmarshal(b, &v)
	return v, err
}
