package msgpackcodec

import (
	"encoding/binary"
	"errors"
)

// errMsgpackMalformed rejects bytes that are not exactly one well-formed
// MessagePack value of bounded depth.
var errMsgpackMalformed = errors.New("msgpack: malformed value")

// msgpackMaxDepth bounds the nesting of arrays and maps.
const msgpackMaxDepth = 1000

// checkMsgpack walks b's MessagePack structure before it is decoded. The
// decoder trusts declared lengths: a 5-byte array header claiming 2³² − 1
// elements makes it allocate tens of gigabytes (found by FuzzMsgpackDecode).
// Here every container must declare no more elements than bytes remain
// (each element takes at least one), every string, binary or extension must
// fit in b, nesting is bounded, and nothing may follow the value.
func checkMsgpack(b []byte) error {
	i := 0
	need := func(n uint64) bool { return n <= uint64(len(b)-i) }
	length := func(size int) (uint64, bool) {
		if !need(uint64(size)) {
			return 0, false
		}
		var n uint64
		switch size {
		case 1:
			n = uint64(b[i])
		case 2:
			n = uint64(binary.BigEndian.Uint16(b[i:]))
		case 4:
			n = uint64(binary.BigEndian.Uint32(b[i:]))
		}
		i += size
		return n, true
	}
	pending := []uint64{1} // elements still to read at each open level
	for len(pending) > 0 {
		if pending[len(pending)-1] == 0 {
			pending = pending[:len(pending)-1]
			continue
		}
		pending[len(pending)-1]--
		if i >= len(b) {
			return errMsgpackMalformed
		}
		c := b[i]
		i++
		var skip, elems uint64 // bytes to skip; elements of a new container
		container, ok := false, true
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
			// fixint, nil, bool
		case c >= 0x80 && c <= 0x8f:
			container, elems = true, 2*uint64(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			container, elems = true, uint64(c&0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = uint64(c & 0x1f)
		case c >= 0xc4 && c <= 0xc6: // bin 8/16/32
			skip, ok = length(1 << (c - 0xc4))
		case c >= 0xc7 && c <= 0xc9: // ext 8/16/32
			skip, ok = length(1 << (c - 0xc7))
			skip++ // type byte
		case c == 0xca, c == 0xcb: // float 32/64
			skip = 4 << (c - 0xca)
		case c >= 0xcc && c <= 0xcf: // uint 8..64
			skip = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int 8..64
			skip = 1 << (c - 0xd0)
		case c >= 0xd4 && c <= 0xd8: // fixext 1..16
			skip = 1 + 1<<(c-0xd4)
		case c >= 0xd9 && c <= 0xdb: // str 8/16/32
			skip, ok = length(1 << (c - 0xd9))
		case c == 0xdc, c == 0xdd: // array 16/32
			elems, ok = length(2 << (c - 0xdc))
			container = true
		case c == 0xde, c == 0xdf: // map 16/32
			elems, ok = length(2 << (c - 0xde))
			container, elems = true, 2*elems
		default: // 0xc1, never used
			return errMsgpackMalformed
		}
		if !ok || !need(skip) {
			return errMsgpackMalformed
		}
		i += int(skip)
		if container {
			if !need(elems) || len(pending) >= msgpackMaxDepth {
				return errMsgpackMalformed
			}
			pending = append(pending, elems)
		}
	}
	if i != len(b) {
		return errTrailing
	}
	return nil
}
