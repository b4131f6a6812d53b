package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/ring"
	"github.com/shardsession/shardsession/shard"
)

// MigrateOptions tune Migrate. The zero value works.
type MigrateOptions struct {
	// Batch is how many keys one SCAN asks for and one MIGRATE moves at
	// most. MIGRATE blocks the source server while it hands the keys over,
	// so this bounds the latency the migrator adds to other requests (the
	// copy mover moves a batch's keys a few at a time, each in its own
	// short scripts). Default 100.
	Batch int
	// Rate caps the keys scanned per second over all shards, so that a
	// migration does not starve the shards' traffic. Default 20,000;
	// negative means no cap.
	Rate int
	// Progress, if set, is called after every batch and once at the end,
	// never concurrently.
	Progress func(Progress)
}

func (o *MigrateOptions) init() {
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Rate == 0 {
		o.Rate = 20000
	}
}

// Progress of a migration.
type Progress struct {
	Epoch int64
	// Total is how many keys the shards being walked held when the walk
	// started (DBSIZE): an estimate, since sessions come and go.
	Total int64
	// Scanned counts keys examined, Moved those handed to their new owner.
	Scanned, Moved int64
	// Remaining estimates the keys left to examine: Total − Scanned, at
	// least 0.
	Remaining int64
	// Done is set once every shard has been walked and the previous ring
	// dropped.
	Done bool
}

// Migrate walks the shards of the ring being left with SCAN (by key prefix,
// rate-limited) and moves every session whose owner changed to its new
// owner. When every shard is walked it drops the previous ring
// (PhaseStable). It is resumable: each shard's SCAN cursor is saved on that
// shard after every batch, and a Migrate of the same epoch (in this process
// or another) starts from there. Cancelling ctx stops it with ctx's error;
// the migration stays in PhaseMigrate, fully correct, until it is resumed.
//
// Migrate may run on any one node of a fleet (Reshard runs it) while the
// others serve: their reads and writes move keys too, and the mover
// (MIGRATE's atomicity, or the copy mover's marks) makes sure that each key
// moves once.
func (c *Cluster) Migrate(ctx context.Context, opt MigrateOptions) (Progress, error) {
	opt.init()
	s := c.snap.Load()
	switch s.move.phase {
	case PhaseStable:
		return Progress{Epoch: s.move.epoch, Done: true}, nil
	case PhaseDualRead:
		return Progress{Epoch: s.move.epoch}, ErrNotMigrating
	}
	m := &migration{c: c, s: s, opt: opt, p: Progress{Epoch: s.move.epoch}}
	sources := s.sources()
	for _, sh := range sources {
		n, err := sh.Primary().DBSize(ctx).Result()
		if err != nil {
			return m.p, sh.Wrap(err)
		}
		m.total += n
	}
	rate := opt.Rate
	if rate > 0 {
		rate = max(1, rate/len(sources))
	}
	errs := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, sh := range sources {
		wg.Go(func() { errs[i] = m.walk(ctx, sh, rate) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return m.report(false), err
	}
	stable := Topology{Epoch: s.move.epoch, Phase: PhaseStable, Shards: s.move.opts, Ring: s.move.ring}
	if err := c.Apply(ctx, stable); err != nil && !errors.Is(err, ErrStaleTopology) {
		return m.report(false), err
	}
	for _, sh := range sources {
		sh.Primary().Del(ctx, m.c.cursorKey(m.s.move.epoch)) // best effort: a leftover mark only expires later
	}
	return m.report(true), nil
}

// sources returns the shards of the previous ring that own a partition
// which changes owner: the only ones that can hold keys to move.
func (s *snapshot) sources() []*shard.Shard {
	p := s.move.prev
	var out []*shard.Shard
	for i, sh := range p.shards {
		if len(p.owners) != len(s.owners) {
			out = append(out, sh)
			continue
		}
		for part, o := range p.owners {
			if int(o) == i && s.shards[s.owners[part]] != sh {
				out = append(out, sh)
				break
			}
		}
	}
	return out
}

// migration is one run of Migrate.
type migration struct {
	c     *Cluster
	s     *snapshot
	opt   MigrateOptions
	total int64

	scanned, moved atomic.Int64
	mu             sync.Mutex // serialises opt.Progress and guards p
	p              Progress
}

// report computes the progress, passes it to opt.Progress and returns it.
func (m *migration) report(done bool) Progress {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.p.Total, m.p.Scanned, m.p.Moved, m.p.Done = m.total, m.scanned.Load(), m.moved.Load(), done
	m.p.Remaining = max(0, m.total-m.p.Scanned)
	if done {
		m.p.Remaining = 0
	}
	m.c.stats.migrationRemaining.Store(m.p.Remaining)
	if m.opt.Progress != nil {
		m.opt.Progress(m.p)
	}
	return m.p
}

// cursorDone marks a shard whose walk is complete.
const cursorDone = "done"

// walk scans one shard of the previous ring and moves the keys it no
// longer owns, at most rate keys per second (no cap if rate < 0).
func (m *migration) walk(ctx context.Context, sh *shard.Shard, rate int) error {
	cli := sh.Primary()
	saved, err := cli.Get(ctx, m.c.cursorKey(m.s.move.epoch)).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return sh.Wrap(err)
	}
	if saved == cursorDone {
		return nil
	}
	cursor, _ := strconv.ParseUint(saved, 10, 64)
	match := globEscape(m.c.prefix) + "*"
	start, scanned := time.Now(), 0
	for {
		keys, next, err := cli.Scan(ctx, cursor, match, int64(m.opt.Batch)).Result()
		if err != nil {
			return sh.Wrap(err)
		}
		if err := m.moveAway(ctx, sh, keys); err != nil {
			return err
		}
		scanned += len(keys)
		m.scanned.Add(int64(len(keys)))
		m.c.stats.migrationScanned.Add(int64(len(keys)))
		cursor = next
		mark := strconv.FormatUint(cursor, 10)
		if cursor == 0 {
			mark = cursorDone
		}
		if err := cli.Set(ctx, m.c.cursorKey(m.s.move.epoch), mark, 7*24*time.Hour).Err(); err != nil {
			return sh.Wrap(err)
		}
		m.report(false)
		if cursor == 0 {
			return nil
		}
		if rate > 0 {
			if err := sleepUntil(ctx, start.Add(time.Duration(scanned)*time.Second/time.Duration(rate))); err != nil {
				return err
			}
		}
	}
}

// moveAway moves the keys of from that the new ring gives to another shard,
// one MIGRATE (or one copyKeys) per destination.
func (m *migration) moveAway(ctx context.Context, from *shard.Shard, keys []string) error {
	groups := map[*shard.Shard][]string{}
	for _, k := range keys {
		id, ok := placement(k[len(m.c.prefix):])
		if !ok {
			continue
		}
		s := m.s
		if to := s.shards[ring.Owner(s.owners, id)]; to != from {
			groups[to] = append(groups[to], k)
		}
	}
	for to, ks := range groups {
		n, err := m.c.move(ctx, m.s, from, to, ks...)
		m.moved.Add(int64(n))
		if err != nil {
			return err
		}
	}
	return nil
}

// sleepUntil waits until t or until ctx is done.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p Progress) String() string {
	return fmt.Sprintf("epoch %d: scanned %d of ~%d, moved %d, ~%d left", p.Epoch, p.Scanned, p.Total, p.Moved, p.Remaining)
}
