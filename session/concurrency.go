package session

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/shardsession/shardsession/store"
)

// mergeAttempts bounds the compare-and-set attempts of a Commit that Merge
// resolves, so two requests that keep conflicting cannot loop forever.
const mergeAttempts = 5

// saveChanges writes the values a request changed. Under Optimistic the
// write is compare-and-set on the version loaded; a conflict goes to Merge,
// if set, which is retried against the version it merged with.
func (m *Manager) saveChanges(ctx context.Context, d *data, now time.Time) error {
	err := m.update(ctx, d, now, store.Update)
	for range mergeAttempts - 1 {
		if !errors.Is(err, store.ErrConflict) || m.Merge == nil {
			break
		}
		if err = m.merge(ctx, d); err != nil {
			return err
		}
		err = m.update(ctx, d, now, store.Update)
	}
	return err
}

// merge reloads the stored session and rebases d on it: d's values become
// Merge(stored, mine), its changes the difference from stored, its version
// the stored one.
func (m *Manager) merge(ctx context.Context, d *data) error {
	fields, found, err := m.Store.Load(ctx, d.sid(), store.LoadOptions{Primary: true})
	if err != nil {
		return err
	}
	if !found {
		return store.ErrNotFound
	}
	stored, err := m.decode(fields)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	d.own()
	theirs := make(map[string]any, len(stored.values))
	for k, v := range stored.values {
		theirs[k] = v
	}
	mine := make(map[string]any, len(d.values))
	for k, v := range d.values {
		mine[k] = v
	}
	merged := m.Merge(theirs, mine)
	if merged == nil {
		merged = map[string]any{}
	}
	clear(d.changed)
	for k, v := range merged {
		if old, ok := stored.values[k]; !ok || !reflect.DeepEqual(old, v) {
			d.markChanged(k)
		}
	}
	for k := range stored.values {
		if _, ok := merged[k]; !ok {
			d.markChanged(k)
		}
	}
	d.values, d.sizes, d.version, d.write = merged, stored.sizes, stored.version, stored.write
	return nil
}
