package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/shardsession/shardsession/store"
)

// Why the client carries a version. Replicas apply writes asynchronously:
// a user who logs in on one web node and lands on another a millisecond
// later may be read from a replica that has not yet received the login. So
// the token the client holds (cookie or header) is
//
//	<token>.<version>.<mac>
//
// where version is the record's version after the client's last write
// (store.VersionField, bumped atomically by every save) and mac is
// HMAC-SHA256 over token and version under Manager.SigningKeys[0]. Load asks the
// Store for at least that version (store.LoadOptions.MinVersion): a
// replica that is behind, or that does not have the session yet, is not
// trusted and the primary answers instead. Every response whose version
// changed re-issues the token, so the client always names the newest
// version it has seen.
//
// The MAC makes the version the server's word, not the client's: a client
// cannot raise it to force every read of its session onto the primary, nor
// present a version the server never issued for that token. A token whose
// MAC does not verify under any key is treated like a forged token: the
// request gets a new, empty session. Without SigningKeys, tokens carry no version
// and every Load reads the primary (LoadOptions.Primary), whatever the
// cluster's read policy: replica reads need keys.
//
// With SigningKeys, a bare token (no version: issued before keys were
// added, or a signed token with its version and MAC stripped) is refused
// like a forged one, unless Manager.AcceptUnsignedTokens is set for the
// time a deployment moves to keys: it is then read from the primary and
// upgraded to a signed one in the response. Without SigningKeys every token
// is bare.

// minKeyLen is the shortest key accepted: HMAC-SHA256's block strength.
const minKeyLen = 32

// macLen is the length of a MAC in unpadded base64url.
var macLen = base64.RawURLEncoding.EncodedLen(sha256.Size)

// unknownVersion is the version of a bare token: the client's last write is
// not known, so only the primary may answer.
const unknownVersion = -1

// checkKeys reports a key too short to sign with.
func (m *Manager) checkKeys() error {
	for i, k := range m.SigningKeys {
		if len(k) < minKeyLen {
			return fmt.Errorf("%w: %w: SigningKeys[%d] has %d bytes", ErrBadConfig, ErrBadKey, i, len(k))
		}
	}
	return nil
}

// clientToken is what the client holds for the session token at version:
// the bare token without SigningKeys, or when the version is unknown, else
// token.version.mac signed with the first key. "" stays "".
func (m *Manager) clientToken(token string, version int64) string {
	if token == "" || len(m.SigningKeys) == 0 || version < 0 {
		return token
	}
	v := strconv.FormatInt(version, 10)
	return token + "." + v + "." + mac(m.SigningKeys[0], token, v)
}

// parseClientToken splits what a client sent into the session token and
// the version it last saw (unknownVersion for a bare token). ok is false
// for anything this Manager did not issue: a malformed token, a version
// without a MAC, a MAC that no key verifies, any version without
// SigningKeys, or a bare token with SigningKeys (unless
// AcceptUnsignedTokens).
func (m *Manager) parseClientToken(s string) (token string, version int64, ok bool) {
	token, rest, signed := strings.Cut(s, ".")
	if !validToken(token) {
		return "", 0, false
	}
	if !signed {
		if len(m.SigningKeys) > 0 && !m.AcceptUnsignedTokens {
			return "", 0, false
		}
		return token, unknownVersion, true
	}
	v, sum, found := strings.Cut(rest, ".")
	if !found || len(m.SigningKeys) == 0 || len(sum) != macLen || len(v) == 0 || len(v) > 19 || strings.Trim(v, "0123456789") != "" {
		return "", 0, false
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return "", 0, false
	}
	for _, k := range m.SigningKeys {
		if hmac.Equal([]byte(sum), []byte(mac(k, token, v))) {
			return token, version, true
		}
	}
	return "", 0, false
}

// mac is the base64url HMAC-SHA256 of token and version under key. The
// prefix keeps these MACs apart from anything else signed with the key.
func mac(key []byte, token, version string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("shardsession/v1\x00"))
	h.Write([]byte(token))
	h.Write([]byte{'.'})
	h.Write([]byte(version))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// loadOptions are the Store's LoadOptions for a client that last saw
// version, recording where the answer came from in info.
func loadOptions(version int64, info *store.ReadInfo) store.LoadOptions {
	if version == unknownVersion {
		return store.LoadOptions{Primary: true, Info: info}
	}
	return store.LoadOptions{MinVersion: version, Info: info}
}

// ReadFrom says which node of its shard served the request's session: a
// replica or the primary, and whether a replica was asked first but was
// behind the client's version. ok is false when no read reached a Store
// that reports it (a new session, a near-cache hit, a Store other than
// *cluster.Cluster).
func (m *Manager) ReadFrom(ctx context.Context) (info store.ReadInfo, ok bool) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.read, d.read.Node != ""
}
