package session

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/shardsession/shardsession/cluster"
)

// Load puts the session named by token into the returned context. A token
// that is malformed, unknown or expired gives a new, empty session (whose
// token will be a fresh random one: a client can never choose its session's
// token). An error means the session could not be read (for example
// ErrUnavailable); it is never hidden behind an empty session.
func (m *Manager) Load(ctx context.Context, token string) (context.Context, error) {
	if _, ok := ctx.Value(contextKey{m}).(*data); ok {
		return ctx, nil
	}
	d, err := m.load(ctx, token, m.clock())
	if err != nil {
		return ctx, err
	}
	return context.WithValue(ctx, contextKey{m}, d), nil
}

func (m *Manager) load(ctx context.Context, token string, now time.Time) (*data, error) {
	if !validToken(token) {
		return newData(now, m.Lifetime), nil
	}
	var d *data
	if dl, ok := m.Store.(DecodedLoader); ok {
		var err error
		if d, err = m.loadShared(ctx, dl, storeID(token)); err != nil {
			return nil, err
		}
	} else {
		fields, found, err := m.Store.Load(ctx, storeID(token), cluster.LoadOptions{})
		if err != nil {
			return nil, err
		}
		if found {
			if d, err = m.decode(fields); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
		}
	}
	if d == nil {
		return newData(now, m.Lifetime), nil
	}
	// A cached session is checked here too: a read never outlives the idle
	// timeout, whatever the cache holds.
	if !now.Before(m.expireAt(d.seen, d.deadline)) {
		// Expired by our clock before Redis reaped it.
		return newData(now, m.Lifetime), nil
	}
	d.token, d.stored = token, true
	return d, nil
}

// Commit saves what the request changed and returns the session's token and
// absolute deadline, which is when its cookie should expire (the idle timeout
// is enforced by the key's expiry in Redis, so the cookie need not be
// re-sent on every request). The token is "" when there is no session to
// point a cookie at (none was created, or it was destroyed). An unmodified session is written
// only when its idle expiry is due to be pushed forward. LoadAndSave calls
// Commit; call it yourself only when you call Load yourself.
func (m *Manager) Commit(ctx context.Context) (token string, deadline time.Time, err error) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := m.clock()
	if d.readOnly {
		return d.commitReadOnly()
	}
	switch {
	case d.status == Destroyed:
		return "", time.Time{}, nil
	case d.status == Modified && (!d.stored || d.oldToken != ""):
		err = m.create(ctx, d, now)
	case d.status == Modified:
		err = m.saveChanges(ctx, d, now)
	case d.stored && (m.SaveAlways || m.touchDue(d.seen, now)):
		err = m.update(ctx, d, now, cluster.Touch)
	}
	if errors.Is(err, cluster.ErrNotFound) {
		// Destroyed or expired by another request meanwhile: that wins, and
		// this request's changes are dropped rather than resurrecting it.
		d.reset(Destroyed)
		return "", time.Time{}, nil
	}
	if err != nil || !d.stored {
		return "", time.Time{}, err
	}
	d.status = Unmodified
	return d.token, d.deadline, nil
}

// create writes the whole session under a new token, then deletes the token
// it replaces, if any (RenewToken). The two may live on different shards.
func (m *Manager) create(ctx context.Context, d *data, now time.Time) error {
	set := map[string][]byte{
		createdField:  unixMilli(d.created),
		deadlineField: unixMilli(d.deadline),
		seenField:     unixMilli(now),
	}
	d.meta.put(set)
	size, err := m.encodeValues(d, maps.Keys(d.values), set)
	if err != nil {
		return err
	}
	if err := m.checkLimits(d, size); err != nil {
		return err
	}
	token := newToken()
	v, err := m.Store.Save(ctx, storeID(token), cluster.Write{Mode: cluster.Create, Set: set, ExpireAt: m.expireAt(now, d.deadline)})
	if err != nil {
		return err
	}
	d.token, d.stored, d.version, d.seen, d.id = token, true, v, now, ""
	clear(d.changed)
	oldID := ""
	if d.oldToken != "" {
		oldID = storeID(d.oldToken)
		if err := m.Store.Delete(ctx, oldID); err != nil {
			return fmt.Errorf("shardsession: renewed session saved, old one not deleted: %w", err)
		}
		d.oldToken = ""
	}
	return m.afterCreate(ctx, d, oldID)
}

// update writes the changed values (or, for a touch, only the last-seen
// time) and pushes the expiry forward.
func (m *Manager) update(ctx context.Context, d *data, now time.Time, mode cluster.WriteMode) error {
	w := cluster.Write{Mode: mode, Set: map[string][]byte{seenField: unixMilli(now)}, ExpireAt: m.expireAt(now, d.deadline)}
	if m.Optimistic && mode == cluster.Update {
		w.IfVersion = d.version
	}
	if d.metaDirty {
		w.Del = append(w.Del, d.meta.put(w.Set)...)
	}
	for k := range d.changed {
		if _, ok := d.values[k]; !ok {
			w.Del = append(w.Del, valuePrefix+k)
			delete(d.sizes, k)
		}
	}
	size, err := m.encodeValues(d, maps.Keys(d.changed), w.Set)
	if err != nil {
		return err
	}
	if err := m.checkLimits(d, size); err != nil {
		return err
	}
	v, err := m.Store.Save(ctx, d.sid(), w)
	if err != nil {
		return err
	}
	d.version, d.seen = v, now
	clear(d.changed)
	return m.afterUpdate(ctx, d)
}

// Destroy deletes the session from the store now and empties it; the
// response expires the cookie. Values Put afterwards start a new session
// with a new token.
func (m *Manager) Destroy(ctx context.Context) error {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.readOnly {
		return d.readOnlyErr()
	}
	var ids []string
	if d.oldToken != "" {
		ids = append(ids, storeID(d.oldToken))
	}
	if d.stored {
		ids = append(ids, d.sid())
	}
	for _, id := range ids {
		if err := m.Store.Delete(ctx, id); err != nil {
			return err
		}
	}
	m.afterDestroy(ctx, d, ids)
	d.reset(Destroyed)
	d.created = m.clock()
	d.deadline = d.created.Add(m.Lifetime)
	return nil
}

// RenewToken gives the session a new token at Commit, keeping its data and
// its absolute deadline, and deletes the old one. Call it when privileges
// change (login, logout of an elevated role) against session fixation.
func (m *Manager) RenewToken(ctx context.Context) error {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stored && d.oldToken == "" {
		d.oldToken = d.token
	}
	d.token, d.stored, d.status = "", false, Modified
	return nil
}

// reset empties d and sets its status.
func (d *data) reset(s Status) {
	d.token, d.oldToken, d.stored, d.version = "", "", false, 0
	d.meta = meta{}
	clear(d.values)
	clear(d.sizes)
	clear(d.changed)
	d.status = s
}
