package session

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/session/msgpackcodec"
)

func TestValidToken(t *testing.T) {
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{"fresh", newToken(), true},
		{"empty", "", false},
		{"short", "abc", false},
		{"padded", strings.Repeat("A", 42) + "=", false},
		{"standard base64", strings.Repeat("+", 43), false},
		{"too long", newToken() + "A", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validToken(tt.token); got != tt.want {
				t.Errorf("validToken(%q) = %v, want %v", tt.token, got, tt.want)
			}
		})
	}
}

func TestTokensAreUniqueAndHashedForStorage(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := newToken()
		if seen[tok] {
			t.Fatal("duplicate token")
		}
		seen[tok] = true
		if id := storeID(tok); id == tok || len(id) != tokenLen || storeID(tok) != id {
			t.Fatalf("storeID(%q) = %q: must be a stable hash, not the token", tok, id)
		}
	}
}

func TestCodecRoundTrip(t *testing.T) {
	values := []any{"ada", 42, true, 3.5, []byte("raw"), map[string]string{"a": "1"}, []string{"x"}}
	for _, c := range []Codec{GobCodec{}, JSONCodec{}, msgpackcodec.Codec{}} {
		for _, v := range values {
			b, err := c.Encode(v)
			if err != nil {
				t.Fatalf("%T.Encode(%v): %v", c, v, err)
			}
			got, err := c.Decode(b)
			if err != nil {
				t.Fatalf("%T.Decode(%v): %v", c, v, err)
			}
			if _, isGob := c.(GobCodec); isGob {
				if gb, _ := c.Encode(got); string(gb) != string(b) {
					t.Errorf("%T round trip of %#v gave %#v", c, v, got)
				}
			}
		}
		if _, err := c.Decode([]byte("\xff\x00garbage")); err == nil {
			t.Errorf("%T.Decode accepted garbage", c)
		}
	}
}

// validToken accepts exactly the strings of a token's length that decode as
// base64url to a token's bytes; unlike the decoder, it also refuses CR and
// LF, which the decoder skips.
func FuzzValidTokenMatchesDecoding(f *testing.F) {
	f.Add(newToken())
	f.Add(strings.Repeat("-", tokenLen))
	f.Add(strings.Repeat("=", tokenLen))
	f.Add(strings.Repeat("0", 18) + "\r" + strings.Repeat("0", 24))
	f.Fuzz(func(t *testing.T, s string) {
		b, err := base64.RawURLEncoding.DecodeString(s)
		decodes := len(s) == tokenLen && err == nil && len(b) == tokenBytes && !strings.ContainsAny(s, "\r\n")
		if validToken(s) != decodes {
			t.Fatalf("validToken(%q) = %v, want %v", s, !decodes, decodes)
		}
	})
}
