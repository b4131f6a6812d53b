package session

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/shardsession/shardsession/internal/scripts"
	"github.com/shardsession/shardsession/store"
)

// Load puts the session named by token into the returned context. token
// is what the client sent (its cookie's value): with Manager.SigningKeys, the
// session token and the signed version of its last write (see signed.go).
// A token that is malformed, unknown, expired or badly signed gives a new,
// empty session (whose token will be a fresh random one: a client can never
// choose its session's token). A record that cannot be decoded (a value the
// Codec refuses, a malformed bookkeeping field, a key that is not a hash)
// is logged and also gives a new, empty session: its first save replaces
// the record, and Destroy deletes it, so logging out always works. Any
// other error means the session could not be read (for example
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

func (m *Manager) load(ctx context.Context, clientToken string, now time.Time) (*data, error) {
	if err := m.ready(); err != nil {
		return nil, err
	}
	token, version, write, ok := m.parseClientToken(clientToken)
	if !ok {
		return newData(now, m.Lifetime), nil
	}
	var d *data
	var read store.ReadInfo // which node answered: a Store's Load says, a cache does not
	if dl, ok := m.Store.(DecodedLoader); ok {
		var err error
		if d, err = m.loadShared(ctx, dl, storeID(token), version); err != nil {
			return m.corrupt(ctx, token, now, err)
		}
	} else {
		info := new(store.ReadInfo) // escapes into the Store: made only on this path
		fields, found, err := m.Store.Load(ctx, storeID(token), loadOptions(version, write, info))
		if err != nil {
			return m.corrupt(ctx, token, now, err)
		}
		read = *info
		if found {
			if d, err = m.decode(fields); err != nil {
				return m.corrupt(ctx, token, now, fmt.Errorf("%w: %w", ErrCorrupt, err))
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
	d.token, d.stored, d.read = token, true, read
	return d, nil
}

// corrupt answers a load of token that failed with err: a record that
// cannot be decoded (ErrCorrupt) is logged and gives a new, empty session
// holding the old token as the one it replaces, so that its first save or
// a Destroy deletes the record; any other error is returned.
func (m *Manager) corrupt(ctx context.Context, token string, now time.Time, err error) (*data, error) {
	if !errors.Is(err, ErrCorrupt) {
		return nil, err
	}
	m.warn(ctx, "undecodable session replaced by an empty one", fmt.Errorf("session %s: %w", storeID(token), err))
	d := newData(now, m.Lifetime)
	d.oldToken = token
	return d, nil
}

// Commit saves what the request changed and returns the session's client
// token and its absolute deadline, which is when its cookie should expire
// (the idle timeout is enforced by the key's expiry in Redis, so the cookie
// need not be re-sent on every request). The client token is the cookie's
// value: with Manager.SigningKeys, the session token and the signed version of its
// last write (see signed.go), so it changes with every write. It is "" when
// there is no session to point a cookie at (none was created, or it was
// destroyed). An unmodified session is written only when its idle expiry is
// due to be pushed forward. LoadAndSave calls Commit; call it yourself only
// when you call Load yourself.
//
// An error wrapping ErrNotReplicated (cluster.Durability.SaveReplicas)
// comes with the client token: the session was saved on the primary, only
// not confirmed by enough replicas.
func (m *Manager) Commit(ctx context.Context) (token string, deadline time.Time, err error) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := m.ready(); err != nil {
		return "", time.Time{}, err
	}
	now := m.clock()
	if d.readOnly {
		token, deadline, err := d.commitReadOnly()
		return m.clientToken(token, d.version, d.write), deadline, err
	}
	switch {
	case d.status == Destroyed:
		return "", time.Time{}, nil
	case d.status == Modified && (!d.stored || d.oldToken != ""):
		err = m.create(ctx, d, now)
	case d.status == Modified:
		err = m.saveChanges(ctx, d, now)
	case d.stored && (m.SaveAlways || m.touchDue(d.seen, now)):
		err = m.update(ctx, d, now, store.Touch)
	}
	if errors.Is(err, store.ErrNotFound) {
		// Destroyed or expired by another request meanwhile: that wins, and
		// this request's changes are dropped rather than resurrecting it.
		d.reset(Destroyed)
		return "", time.Time{}, nil
	}
	if errors.Is(err, ErrNotReplicated) && d.stored {
		d.status = Unmodified
		return m.clientToken(d.token, d.version, d.write), d.deadline, err
	}
	if err != nil || !d.stored {
		return "", time.Time{}, err
	}
	d.status = Unmodified
	return m.clientToken(d.token, d.version, d.write), d.deadline, nil
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
	d.own()
	size, err := m.encodeValues(d, maps.Keys(d.values), set)
	if err != nil {
		return err
	}
	if err := m.checkLimits(d, size); err != nil {
		return err
	}
	token, wid := newToken(), scripts.NewWriteID()
	v, err := m.Store.Save(ctx, storeID(token), store.Write{Mode: store.Create, Set: set, ExpireAt: m.expireAt(now, d.deadline), ID: wid})
	notReplicated, err := splitNotReplicated(err)
	if err != nil {
		return err
	}
	d.token, d.stored, d.version, d.write, d.seen, d.id = token, true, v, wid, now, ""
	clear(d.changed)
	oldID := ""
	if d.oldToken != "" {
		oldID = storeID(d.oldToken)
		if err := m.Store.Delete(ctx, oldID); err != nil {
			return fmt.Errorf("shardsession: renewed session saved, old one not deleted: %w", err)
		}
		d.oldToken = ""
	}
	return cmp.Or(m.afterCreate(ctx, d, oldID), notReplicated)
}

// update writes the changed values (or, for a touch, only the last-seen
// time) and pushes the expiry forward.
func (m *Manager) update(ctx context.Context, d *data, now time.Time, mode store.WriteMode) error {
	w := store.Write{Mode: mode, Set: map[string][]byte{seenField: unixMilli(now)}, ExpireAt: m.expireAt(now, d.deadline)}
	if m.Optimistic && mode == store.Update {
		w.IfVersion = d.version
	}
	if d.metaDirty {
		w.Del = append(w.Del, d.meta.put(w.Set)...)
	}
	for k := range d.changed {
		if _, ok := d.value(k); !ok {
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
	if mode != store.Touch {
		w.ID = scripts.NewWriteID()
	}
	v, err := m.Store.Save(ctx, d.sid(), w)
	notReplicated, err := splitNotReplicated(err)
	if err != nil {
		return err
	}
	d.version, d.seen = v, now
	if mode != store.Touch {
		d.write = w.ID
	}
	clear(d.changed)
	return cmp.Or(m.afterUpdate(ctx, d), notReplicated)
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
	d.renew()
	return nil
}

// renew makes the session get a new token at Commit; d.mu is held.
func (d *data) renew() {
	if d.stored && d.oldToken == "" {
		d.oldToken = d.token
	}
	d.token, d.stored, d.status = "", false, Modified
}

// reset empties d and sets its status.
func (d *data) reset(s Status) {
	d.token, d.oldToken, d.stored, d.version, d.write = "", "", false, 0, ""
	d.meta = meta{}
	if d.shared != nil {
		d.shared, d.values, d.sizes = nil, map[string]any{}, map[string]int{}
	}
	clear(d.values)
	clear(d.sizes)
	clear(d.changed)
	d.status = s
}

// splitNotReplicated separates a save that reached the primary but not
// enough replicas (returned as notReplicated, to report once the save is
// recorded) from a save that failed (err).
func splitNotReplicated(saveErr error) (notReplicated, err error) {
	if errors.Is(saveErr, ErrNotReplicated) {
		return saveErr, nil
	}
	return nil, saveErr
}
