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

// validToken reports whether s has the shape of a token this package made.
// Anything else is not worth a round trip to Redis.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

// storeID is the ID under which the session of token is stored: a hash, so
// that whoever reads Redis (a dump, MONITOR, a replica's disk) learns no
// token a browser would accept. The token's 256 bits of entropy make a fast
// hash enough.
func storeID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
