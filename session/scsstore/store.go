package scsstore

import (
	"context"
	"errors"
	"time"

	"github.com/shardsession/shardsession/store"
)

// ErrNotIterable is returned by All when the store behind cannot enumerate
// its records.
var ErrNotIterable = errors.New("shardsession: scsstore: the store cannot list its sessions")

// DataField is the hash field that holds scs's encoded session.
const DataField = "scs"

// Options configure a Store. The zero value works.
type Options struct {
	// Prefix is put before each scs token to make the record's ID in the
	// cluster (which adds its own key prefix), so scs sessions never collide
	// with package session's records. Default "scs:".
	Prefix string
}

func (o *Options) init() {
	if o.Prefix == "" {
		o.Prefix = "scs:"
	}
}

// Store is an scs session store backed by a shardsession store (a
// *cluster.Cluster, typically). It is safe for concurrent use.
type Store struct {
	c      store.Store
	prefix string
}

// New returns a Store keeping scs sessions in c with default options.
func New(c store.Store) *Store { return NewWithOptions(c, Options{}) }

// NewWithOptions returns a Store keeping scs sessions in c.
func NewWithOptions(c store.Store, opt Options) *Store {
	opt.init()
	return &Store{c: c, prefix: opt.Prefix}
}

// FindCtx returns the session data of token. An unknown or expired token is
// found == false with a nil error; err is for failures, and wraps
// store.ErrUnavailable when the token's shard could not answer.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	// scs cookies carry no version to check a replica against: read the
	// primary, so a session is never older than its last commit.
	fields, found, err := s.c.Load(ctx, s.prefix+token, store.LoadOptions{Primary: true})
	if err != nil || !found {
		return nil, false, err
	}
	b, ok := fields[DataField]
	if !ok {
		return nil, false, nil
	}
	return []byte(b), true, nil
}

// CommitCtx stores b under token until expiry, replacing what was there.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	id := s.prefix + token
	w := store.Write{Set: map[string][]byte{DataField: b}, ExpireAt: expiry}
	// Update first: most commits change a session that exists. A record that
	// is gone is created; one created meanwhile by a concurrent commit of the
	// same token is updated after all (last write wins, as scs expects).
	var err error
	for _, mode := range []store.WriteMode{store.Update, store.Create, store.Update} {
		w.Mode = mode
		if _, err = s.c.Save(ctx, id, w); !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	return err // still racing with concurrent commits and deletes
}

// DeleteCtx removes token's session. Deleting an unknown token is not an
// error.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	return s.c.Delete(ctx, s.prefix+token)
}

// AllCtx returns every live scs session, token → data, from every shard.
// It scans all shards (store.PrefixIterable, which *cluster.Cluster has);
// with a store that cannot enumerate its records it fails with
// ErrNotIterable.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	it, ok := store.As[store.PrefixIterable](s.c)
	if !ok {
		return nil, ErrNotIterable
	}
	all := map[string][]byte{}
	err := it.IteratePrefix(ctx, s.prefix, func(id string, fields map[string]string) error {
		if b, ok := fields[DataField]; ok {
			all[id[len(s.prefix):]] = []byte(b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return all, nil
}

// Find is FindCtx without a context.
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// Commit is CommitCtx without a context.
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// Delete is DeleteCtx without a context.
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// All is AllCtx without a context.
func (s *Store) All() (map[string][]byte, error) {
	return s.AllCtx(context.Background())
}
