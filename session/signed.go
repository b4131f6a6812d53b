package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

// Why the client carries a version. Replicas apply writes asynchronously:
// a user who logs in on one web node and lands on another a millisecond
// later may be read from a replica that has not yet received the login. So
// the token the client holds (cookie or header) is
//
//	<token>.<version>-<write>.<mac>
//
// where version is the record's version after the client's last write or
// read (store.VersionField, bumped atomically by every save), write is the
// ID of the write that made that version (store.WriteField), and mac is
// HMAC-SHA256 over token, version and write under Manager.SigningKeys[0].
// Load asks the Store for a record at least that new
// (store.LoadOptions.MinVersion and MinWrite, see store.AtLeast): a replica
// that is behind, that does not have the session yet, or whose record has
// the same version but another write (a record on a branch of history
// that a failover discarded) is not trusted and the primary answers
// instead. Every response whose version or write changed re-issues the
// token, so the client always names the newest record it has seen, and its
// reads never go back to an older one (monotonic reads) unless the primary
// itself lost it.
//
// Tokens issued before write IDs were signed in (<token>.<version>.<mac>)
// are still accepted, and compared by version only; the next response
// re-issues them in the new form. A server of an earlier release refuses
// the new form (a new, empty session), so roll back only with that in mind.
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

// clientToken is what the client holds for the session token at version,
// made by write: the bare token without SigningKeys, or when the version is
// unknown, else token.version-write.mac (token.version.mac when write is
// "") signed with the first key. "" stays "".
func (m *Manager) clientToken(token string, version int64, write string) string {
	if token == "" || len(m.SigningKeys) == 0 || version < 0 {
		return token
	}
	v := strconv.FormatInt(version, 10)
	if write != "" {
		v += "-" + write
	}
	return token + "." + v + "." + mac(m.SigningKeys[0], token, v)
}

// parseClientToken splits what a client sent into the session token, the
// version it last saw (unknownVersion for a bare token) and the write that
// made it ("" when the token does not say). ok is false for anything this
// Manager did not issue: a malformed token, a version without a MAC, a MAC
// that no key verifies, any version without SigningKeys, or a bare token
// with SigningKeys (unless AcceptUnsignedTokens).
func (m *Manager) parseClientToken(s string) (token string, version int64, write string, ok bool) {
	token, rest, signed := strings.Cut(s, ".")
	if !validToken(token) {
		return "", 0, "", false
	}
	if !signed {
		if len(m.SigningKeys) > 0 && !m.AcceptUnsignedTokens {
			return "", 0, "", false
		}
		return token, unknownVersion, "", true
	}
	vw, sum, found := strings.Cut(rest, ".")
	if !found || len(m.SigningKeys) == 0 || len(sum) != macLen {
		return "", 0, "", false
	}
	v, write, hasWrite := strings.Cut(vw, "-")
	if len(v) == 0 || len(v) > 19 || strings.Trim(v, "0123456789") != "" || hasWrite && !scripts.ValidWriteID(write) {
		return "", 0, "", false
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return "", 0, "", false
	}
	for _, k := range m.SigningKeys {
		if hmac.Equal([]byte(sum), []byte(mac(k, token, vw))) {
			return token, version, write, true
		}
	}
	return "", 0, "", false
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
// version, made by write, recording where the answer came from in info.
func loadOptions(version int64, write string, info *store.ReadInfo) store.LoadOptions {
	if version == unknownVersion {
		return store.LoadOptions{Primary: true, Info: info}
	}
	return store.LoadOptions{MinVersion: version, MinWrite: write, Info: info}
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
