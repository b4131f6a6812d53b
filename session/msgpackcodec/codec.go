package msgpackcodec

import (
	"bytes"
	"errors"

	"github.com/vmihailenco/msgpack/v5"
)

// Codec encodes values as MessagePack (github.com/vmihailenco/msgpack),
// smaller and faster than JSON and readable by programs in other languages.
// Decoded values have MessagePack's types: integers come back as int8…int64
// or uint8…uint64 by size, maps as map[string]any. It implements
// session.Codec.
type Codec struct{}

// Encode implements session.Codec.
func (Codec) Encode(v any) ([]byte, error) { return msgpack.Marshal(v) }

// errTrailing rejects a value followed by more bytes: a stored value is
// exactly one encoded value, anything else is corruption.
var errTrailing = errors.New("msgpack: trailing data after value")

// Decode implements session.Codec. It checks b's structure before decoding
// (see check.go), so a corrupt or hostile stored value cannot make the
// decoder allocate without bound.
func (Codec) Decode(b []byte) (any, error) {
	if err := checkMsgpack(b); err != nil {
		return nil, err
	}
	r := bytes.NewReader(b)
	v, err := msgpack.NewDecoder(r).DecodeInterface()
	if err != nil {
		return nil, err
	}
	if r.Len() > 0 {
		return nil, errTrailing
	}
	return v, nil
}
