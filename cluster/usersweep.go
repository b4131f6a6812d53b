package cluster

import (
	"context"
	"errors"
	"sync"
	"time"
)

// UserSweeper cleans the per-user indexes in the background, a bounded
// number of indexes per run, so that users who never list their sessions
// again do not keep stale members until their index expires. It resumes
// each shard's SCAN where the previous run stopped. It is safe for
// concurrent use; runs are serialised.
type UserSweeper struct {
	c       *Cluster
	mu      sync.Mutex
	cursors map[string]uint64 // shard name → SCAN cursor
}

// NewUserSweeper returns a sweeper of c's user indexes.
func (c *Cluster) NewUserSweeper() *UserSweeper {
	return &UserSweeper{c: c, cursors: map[string]uint64{}}
}

// Sweep prunes up to about budget user indexes per shard and returns how
// many it looked at. A shard that cannot answer is skipped and reported in
// the error; the others are still swept.
func (s *UserSweeper) Sweep(ctx context.Context, budget int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	swept := 0
	for _, sh := range s.c.Shards() {
		cursor := s.cursors[sh.Name()]
		for n := 0; n < budget; {
			keys, next, err := sh.Primary().ScanType(ctx, cursor, globEscape(s.c.userKey(""))+"*", int64(min(budget, scanCount)), "zset").Result()
			if err != nil {
				errs = append(errs, sh.Wrap(err))
				break
			}
			for _, k := range keys {
				if _, _, err := s.c.pruneIndex(ctx, sh, k, nil); err != nil {
					errs = append(errs, err)
				}
			}
			n += len(keys) + 1 // +1: an empty SCAN page still costs a round trip
			swept += len(keys)
			if cursor = next; cursor == 0 {
				break
			}
		}
		s.cursors[sh.Name()] = cursor
	}
	return swept, errors.Join(errs...)
}

// Run sweeps every interval, budget indexes per shard at a time, until ctx
// ends. Errors go to onErr if it is not nil.
func (s *UserSweeper) Run(ctx context.Context, interval time.Duration, budget int, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Sweep(ctx, budget); err != nil && onErr != nil {
			onErr(err)
		}
	}
}
