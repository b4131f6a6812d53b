package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
)

// tokenBytes is the entropy of a session token: 256 bits, twice OWASP's
// minimum of 128.
const tokenBytes = 32

// tokenLen is the length of a token in unpadded base64url.
var tokenLen = base64.RawURLEncoding.EncodedLen(tokenBytes)

// newToken returns a fresh random token.
func newToken() string {
	b := make([]byte, tokenBytes)
	rand.Read(b) // never fails: crypto/rand aborts the program if it cannot read
	return base64.RawURLEncoding.EncodeToString(b)
}

// validToken reports whether s has the shape of a token this package made:
// tokenLen characters of the base64url alphabet (what RawURLEncoding
// decodes, without decoding it: no allocation on every request). Anything
// else is not worth a round trip to Redis.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := range len(s) {
		switch c := s[i]; {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// storeID is the ID under which the session of token is stored: a hash, so
// that whoever reads Redis (a dump, MONITOR, a replica's disk) learns no
// token a browser would accept. The token's 256 bits of entropy make a fast
// hash enough.
func storeID(token string) string {
	// Copied and encoded in buffers on the stack: a request pays for
	// the one string it keeps.
	var in [64]byte
	var sum [sha256.Size]byte
	if len(token) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var out [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}
