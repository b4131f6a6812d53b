package scsstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/cluster"
	"github.com/shardsession/shardsession/shard"
)

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

// Store is an scs session store backed by a cluster. It is safe for
// concurrent use.
type Store struct {
	c      *cluster.Cluster
	prefix string
}

// New returns a Store keeping scs sessions in c with default options.
func New(c *cluster.Cluster) *Store { return NewWithOptions(c, Options{}) }

// NewWithOptions returns a Store keeping scs sessions in c.
func NewWithOptions(c *cluster.Cluster, opt Options) *Store {
	opt.init()
	return &Store{c: c, prefix: opt.Prefix}
}

// FindCtx returns the session data of token. An unknown or expired token is
// found == false with a nil error; err is for failures, and wraps
// shard.ErrUnavailable when the token's shard could not answer.
func (s *Store) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	// scs cookies carry no version to check a replica against: read the
	// primary, so a session is never older than its last commit.
	fields, found, err := s.c.Load(ctx, s.prefix+token, cluster.LoadOptions{Primary: true})
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
	w := cluster.Write{Set: map[string][]byte{DataField: b}, ExpireAt: expiry}
	// Update first: most commits change a session that exists. A record that
	// is gone is created; one created meanwhile by a concurrent commit of the
	// same token is updated after all (last write wins, as scs expects).
	var err error
	for _, mode := range []cluster.WriteMode{cluster.Update, cluster.Create, cluster.Update} {
		w.Mode = mode
		if _, err = s.c.Save(ctx, id, w); !errors.Is(err, cluster.ErrNotFound) && !errors.Is(err, cluster.ErrExists) {
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
// It scans all shards; see cluster.Cluster.Scan.
func (s *Store) AllCtx(ctx context.Context) (map[string][]byte, error) {
	all := map[string][]byte{}
	err := s.c.Scan(ctx, s.prefix, func(sh *shard.Shard, ids []string) error {
		pipe := sh.Primary().Pipeline()
		cmds := make([]*redis.StringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.HGet(ctx, s.c.Key(id), DataField)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return sh.Wrap(err)
		}
		for i, cmd := range cmds {
			// redis.Nil: expired or deleted since the SCAN saw it.
			if b, err := cmd.Bytes(); err == nil {
				all[ids[i][len(s.prefix):]] = b
			}
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
