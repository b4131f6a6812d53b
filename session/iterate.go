package session

import (
	"context"
	"fmt"
)

// Iterate calls fn once for every live session in the Store, on every
// shard, with the session in fn's context, as scs's Iterate does: fn may
// read it with Get, change it with Put or Remove (saved by a Commit after fn
// returns) or end it with Destroy. Iterate stops at the first error from fn
// or from a save. Sessions created or ended while it runs may or may not be
// visited. Sessions are reached by their store IDs, so RenewToken inside fn
// gives a session a token nobody holds: use Destroy instead. The Store must
// be an IterableStore.
func (m *Manager) Iterate(ctx context.Context, fn func(context.Context) error) error {
	it, ok := storeAs[IterableStore](m.Store)
	if !ok {
		return fmt.Errorf("Iterate: %w", ErrNotSupported)
	}
	return it.Iterate(ctx, func(id string, fields map[string]string) error {
		d, err := m.decode(fields)
		if err != nil {
			m.warn(ctx, "Iterate: corrupt session skipped", err)
			return nil
		}
		if !m.clock().Before(m.expireAt(d.seen, d.deadline)) {
			return nil
		}
		d.id, d.stored = id, true
		sctx := context.WithValue(ctx, contextKey{m}, d)
		if err := fn(sctx); err != nil {
			return err
		}
		_, _, err = m.Commit(sctx)
		return err
	})
}
