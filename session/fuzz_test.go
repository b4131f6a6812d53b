package session

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/shardsession/shardsession/session/msgpackcodec"
	"github.com/shardsession/shardsession/store"
)

// Fuzzers for everything that parses input a client or a stored record
// controls. Seed corpora are in testdata/fuzz; CI runs each for a bounded
// time (.ci/run).

// A token is accepted only in the exact shape newToken makes, and its store
// ID is a hash, never the token.
func FuzzToken(f *testing.F) {
	f.Add(newToken())
	f.Add("")
	f.Add(strings.Repeat("A", 43))
	f.Add(strings.Repeat("+", 43))
	f.Fuzz(func(t *testing.T, s string) {
		if !validToken(s) {
			return
		}
		if len(s) != tokenLen {
			t.Fatalf("accepted a token of length %d", len(s))
		}
		if id := storeID(s); id == s || len(id) != tokenLen {
			t.Fatalf("storeID(%q) = %q", s, id)
		}
	})
}

// Token headers never panic, and what they yield is non-empty and bounded.
func FuzzTokenHeader(f *testing.F) {
	f.Add(true, "Bearer "+newToken())
	f.Add(true, "bearer  x")
	f.Add(true, "Basic dXNlcjpwYXNz")
	f.Add(false, newToken())
	f.Add(false, "")
	f.Fuzz(func(t *testing.T, authorization bool, value string) {
		name := "X-Session"
		if authorization {
			name = "Authorization"
		}
		tok, ok := parseTokenHeader(name, value)
		if ok && (tok == "" || len(tok) > maxCookieLen) {
			t.Fatalf("parseTokenHeader(%q, %q) = %q", name, value, tok)
		}
		if !ok && tok != "" {
			t.Fatalf("rejected header still yielded %q", tok)
		}
	})
}

// A stored record, however corrupt, decodes to a session or to an error,
// never a panic; a decoded one survives a round trip through the codec.
func FuzzDecodeRecord(f *testing.F) {
	gobVal, _ := GobCodec{}.Encode("ada")
	f.Add("1700000000000", "1700086400000", "1700000000000", "3", "ada", "1", "user", gobVal)
	f.Add("", "", "", "", "", "", "", []byte{})
	f.Add("-1", "9223372036854775807", "x", "-5", "", "0", "v:x", []byte("\xff\x00"))
	f.Fuzz(func(t *testing.T, created, deadline, seen, version, user, remember, key string, val []byte) {
		m := New(nil)
		fields := map[string]string{
			createdField: created, deadlineField: deadline, seenField: seen,
			store.VersionField: version, userField: user, rememberField: remember,
			valuePrefix + key: string(val),
		}
		d, err := m.decode(fields)
		if err != nil {
			return
		}
		if d.user != user || d.version != store.Version(fields) {
			t.Fatalf("decoded user %q version %d from %v", d.user, d.version, fields)
		}
		set := map[string][]byte{}
		if _, err := m.encodeValues(d, func(yield func(string) bool) { yield(key) }, set); err != nil {
			t.Fatalf("decoded value %#v does not encode again: %v", d.values[key], err)
		}
	})
}

func fuzzCodec(f *testing.F, c Codec, seeds ...any) {
	for _, s := range seeds {
		b, err := c.Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte("\xff\x00garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := c.Decode(b)
		if err != nil {
			return
		}
		enc, err := c.Encode(v)
		if err != nil {
			return // e.g. JSON of a decoded value is always encodable; gob of nil is not
		}
		if _, err := c.Decode(enc); err != nil {
			t.Fatalf("%T: re-encoded %#v does not decode: %v", c, v, err)
		}
	})
}

var codecSeeds = []any{"ada", 42, true, 3.5, []byte("raw"), map[string]any{"a": "1"}, []any{"x", 1.0}}

func FuzzGobDecode(f *testing.F)     { fuzzCodec(f, GobCodec{}, codecSeeds...) }
func FuzzJSONDecode(f *testing.F)    { fuzzCodec(f, JSONCodec{}, codecSeeds...) }
func FuzzMsgpackDecode(f *testing.F) { fuzzCodec(f, msgpackcodec.Codec{}, codecSeeds...) }

// Client tokens (token.version-write.mac): never a panic; what is accepted is a
// valid token and either bare or exactly what this Manager would issue, so
// no client can choose its version.
func FuzzParseClientToken(f *testing.F) {
	m := New(nil)
	m.SigningKeys = [][]byte{[]byte(strings.Repeat("k", 32)), []byte(strings.Repeat("o", 32))}
	tok := newToken()
	f.Add(tok)
	f.Add(m.clientToken(tok, 7, ""))
	f.Add(m.clientToken(tok, 7, "k3x9"))
	f.Add(m.clientToken(tok, 1<<62, ""))
	f.Add(tok + ".7." + strings.Repeat("A", macLen))
	f.Add(tok + ".-1." + strings.Repeat("A", macLen))
	f.Add(tok + "..")
	f.Fuzz(func(t *testing.T, s string) {
		token, version, write, ok := m.parseClientToken(s)
		if !ok {
			return
		}
		if !validToken(token) {
			t.Fatalf("accepted %q with invalid token %q", s, token)
		}
		if version == unknownVersion {
			if s != token {
				t.Fatalf("bare token %q parsed from %q", token, s)
			}
			return
		}
		if version < 0 || m.clientToken(token, version, write) != s {
			t.Fatalf("accepted %q as version %d: not what the Manager issues", s, version)
		}
	})
}

// The middleware reads its cookie with cookieValue, not Request.Cookie: the
// two agree on every Cookie header, for every name the Manager accepts.
func FuzzCookieValue(f *testing.F) {
	f.Add("session=abc", "session")
	f.Add(` a=1; session="quoted" ;session=second`, "session")
	f.Add("session=bad\\value; session=good", "session")
	f.Add("x=1;;session;session=", "session")
	f.Add("__Host-s=v\t; y=2", "__Host-s")
	f.Add("s=\"\"", "s")
	f.Fuzz(func(t *testing.T, line, name string) {
		if !cookieName(name) {
			return
		}
		h := http.Header{"Cookie": strings.Split(line, "\n")}
		got, ok := cookieValue(h, name)
		c, err := (&http.Request{Header: h}).Cookie(name)
		if ok != (err == nil) || ok && got != c.Value {
			t.Fatalf("cookieValue(%q, %q) = %q, %v; Request.Cookie: %v, %v", line, name, got, ok, c, err)
		}
	})
}

// storeID agrees with its plain definition for tokens of any length.
func FuzzStoreID(f *testing.F) {
	f.Add(newToken())
	f.Add(strings.Repeat("x", 64))
	f.Add(strings.Repeat("y", 65))
	f.Fuzz(func(t *testing.T, token string) {
		sum := sha256.Sum256([]byte(token))
		if want := base64.RawURLEncoding.EncodeToString(sum[:]); storeID(token) != want {
			t.Fatalf("storeID(%q) = %q, want %q", token, storeID(token), want)
		}
	})
}
