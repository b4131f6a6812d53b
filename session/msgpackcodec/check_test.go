package msgpackcodec

import (
	"strings"
	"testing"
	"time"
)

// checkMsgpack accepts everything the encoder makes, at every size class.
func TestCheckMsgpackAcceptsEncoded(t *testing.T) {
	big := make([]any, 70000)
	for i := range big {
		big[i] = i
	}
	wide := map[string]any{}
	for i := range 20 {
		wide[strings.Repeat("k", i+1)] = []byte(strings.Repeat("b", 300))
	}
	values := []any{nil, -1, 1 << 40, -1 << 40, 3.5, float32(1.5), strings.Repeat("s", 40), strings.Repeat("s", 300),
		strings.Repeat("s", 70000), big, wide, time.Now(), map[string]any{"a": []any{map[string]any{"b": nil}}}}
	for _, v := range values {
		b, err := Codec{}.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkMsgpack(b); err != nil {
			t.Errorf("checkMsgpack rejected the encoding of %T: %v", v, err)
		}
		if _, err := (Codec{}).Decode(b); err != nil {
			t.Errorf("Decode of %T: %v", v, err)
		}
	}
	for _, bad := range [][]byte{{0xdd, 0xa2, 0x08, 0x8e, 0x19}, {0xc1}, {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, {0x91}, {0x01, 0x02}} {
		if err := checkMsgpack(bad); err == nil {
			t.Errorf("checkMsgpack accepted % x", bad)
		}
	}
}
