package gorillastore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"

	"github.com/shardsession/shardsession/store"
)

// DataField is the hash field that holds a session's encoded values.
const DataField = "gorilla"

// ErrNoKeys is returned by New without a hash key: an unsigned cookie would
// let a client name any session ID.
var ErrNoKeys = errors.New("shardsession: gorillastore: at least one hash key is required")

// Store is a sessions.Store backed by a shardsession store (a
// *cluster.Cluster, typically). Set Options and Prefix
// before it serves requests; it is then safe for concurrent use.
type Store struct {
	// Codecs sign (and optionally encrypt) the cookie and encode the values,
	// made from New's key pairs as sessions.NewCookieStore makes them.
	Codecs []securecookie.Codec

	// Options are the defaults for new sessions: Path "/", MaxAge 30 days,
	// HttpOnly, SameSite Lax, Secure.
	Options *sessions.Options

	// Prefix is put before each session ID to make its record's ID in the
	// cluster, apart from other users of the cluster. Default "gorilla:".
	Prefix string

	c store.Store
}

// New returns a Store keeping sessions in c. keyPairs are
// securecookie.CodecsFromPairs's arguments: hash key, encryption key (may be
// nil), and older pairs for key rotation.
func New(c store.Store, keyPairs ...[]byte) (*Store, error) {
	if len(keyPairs) == 0 || len(keyPairs[0]) == 0 {
		return nil, ErrNoKeys
	}
	s := &Store{
		Codecs: securecookie.CodecsFromPairs(keyPairs...),
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   86400 * 30,
			HttpOnly: true,
			Secure:   true,
			SameSite: http.SameSiteLaxMode,
		},
		Prefix: "gorilla:",
		c:      c,
	}
	s.MaxAge(s.Options.MaxAge)
	s.MaxLength(DefaultMaxLength)
	return s, nil
}

// DefaultMaxLength is the default bound on a session's encoded values, in
// bytes: the values live in Redis, not in the cookie, so the bound is the
// one of a session in Redis (session.Manager's MaxSize), not
// securecookie's 4096-byte cookie limit. The encoding (gob, signed, base64
// twice) is about 1.8 times the size of the values: 64 KiB holds some 36 KiB
// of strings.
const DefaultMaxLength = 64 << 10

// MaxLength bounds the encoded length of a session's values to l bytes, as
// gorilla's FilesystemStore.MaxLength does; Save of a larger session fails
// and writes nothing. 0 means no bound: use with caution, a session is
// read whole on every request. Default DefaultMaxLength. Call it before the
// Store serves requests.
func (s *Store) MaxLength(l int) {
	for _, codec := range s.Codecs {
		if sc, ok := codec.(*securecookie.SecureCookie); ok {
			sc.MaxLength(l)
		}
	}
}

// MaxAge sets the default lifetime of sessions and of the cookie signatures,
// in seconds, as the stores of gorilla/sessions do.
func (s *Store) MaxAge(age int) {
	s.Options.MaxAge = age
	for _, codec := range s.Codecs {
		if sc, ok := codec.(*securecookie.SecureCookie); ok {
			sc.MaxAge(age)
		}
	}
}

// Get returns the request's session called name, cached in the request's
// registry (sessions.GetRegistry) so that every Get of one request sees the
// same Session.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New returns the request's session called name without registering it. A
// missing, forged or expired cookie gives a new session (IsNew) and, for a
// forged one, the securecookie error, as gorilla's stores do. A shard that
// cannot answer gives an error wrapping store.ErrUnavailable and a new
// session that must not be saved over the stored one.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := *s.Options
	sess.Options = &opts
	sess.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return sess, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.Codecs...); err != nil {
		return sess, err
	}
	// The cookie carries no version to check a replica against: read the
	// primary, so a session is never older than its last save.
	fields, found, err := s.c.Load(r.Context(), s.Prefix+id, store.LoadOptions{Primary: true})
	if err != nil || !found {
		return sess, err
	}
	if err := securecookie.DecodeMulti(name, fields[DataField], &sess.Values, s.Codecs...); err != nil {
		return sess, fmt.Errorf("shardsession: gorillastore: stored session: %w", err)
	}
	sess.ID, sess.IsNew = id, false
	return sess, nil
}

// Save stores the session and sets its cookie. A session whose
// Options.MaxAge is < 0 is deleted and its cookie expired.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	ctx := r.Context()
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.c.Delete(ctx, s.Prefix+sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	values, err := securecookie.EncodeMulti(sess.Name(), sess.Values, s.Codecs...)
	if err != nil {
		return err
	}
	if err := s.save(ctx, sess, []byte(values)); err != nil {
		return err
	}
	cookie, err := securecookie.EncodeMulti(sess.Name(), sess.ID, s.Codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), cookie, sess.Options))
	return nil
}

// save updates the stored session, or creates it under a new random ID when
// it is new or gone (expired, or deleted by another request): an ID is never
// reused once its record is gone.
func (s *Store) save(ctx context.Context, sess *sessions.Session, values []byte) error {
	w := store.Write{Mode: store.Update, Set: map[string][]byte{DataField: values}, ExpireAt: s.expireAt(sess)}
	if sess.ID != "" {
		_, err := s.c.Save(ctx, s.Prefix+sess.ID, w)
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	w.Mode = store.Create
	id := newID()
	if _, err := s.c.Save(ctx, s.Prefix+id, w); err != nil {
		return err
	}
	sess.ID = id
	return nil
}

// expireAt is when the record expires: MaxAge from now, or, for a browser
// session cookie (MaxAge 0), the store's default MaxAge.
func (s *Store) expireAt(sess *sessions.Session) time.Time {
	age := sess.Options.MaxAge
	if age == 0 {
		age = s.Options.MaxAge
	}
	if age <= 0 {
		age = 86400 * 30
	}
	return time.Now().Add(time.Duration(age) * time.Second)
}

// newID returns 256 bits from crypto/rand, as base32 text.
func newID() string { return rand.Text() + rand.Text() }
