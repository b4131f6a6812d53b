package session

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/shardsession/shardsession/store"
)

// SetUser records that the session belongs to userID; call it at login.
// At Commit the session is added to the user's index (a sorted set on the
// user's shard), which ListByUser and RevokeByUser read across every shard;
// a later RenewToken or Destroy keeps the index in step. A user with more
// than Manager.MaxSessionsPerUser sessions loses the oldest ones. SetUser("")
// detaches the session from its user. The Store must be a UserIndex, or
// Commit fails with ErrNotSupported. A user ID longer than 512 bytes makes
// Commit fail with ErrTooLarge.
//
// When the user changes, SetUser also renews the token, as RenewToken does
// (unless Manager.KeepTokenOnSetUser): a token known before login is
// worthless after it. Sessions reached through Iterate keep their token.
func (m *Manager) SetUser(ctx context.Context, userID string) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.user == userID {
		return
	}
	d.user, d.metaDirty, d.status = userID, true, Modified
	if !m.KeepTokenOnSetUser && d.id == "" {
		d.renew()
	}
}

// User returns the user ID given to SetUser, or "".
func (m *Manager) User(ctx context.Context) string {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.user
}

// SessionInfo describes one of a user's sessions. ID is the session's store
// ID, a hash of its token: it names the session without being usable as a
// token.
type SessionInfo struct {
	ID       string
	Shard    string // "" if the Store cannot tell
	Created  time.Time
	LastSeen time.Time // last save or idle-expiry push, not every request
	Deadline time.Time
	// Current is true for the session of ctx given to ListByUser.
	Current bool
}

// ListByUser returns userID's live sessions on every shard. The list is
// exact: index members whose session expired or was destroyed are checked
// and removed, not returned. Only the bookkeeping fields of each session are
// read, never its values. A session whose bookkeeping cannot be parsed is
// left out and logged. It fails rather than return a partial list if a
// shard cannot answer.
func (m *Manager) ListByUser(ctx context.Context, userID string) ([]SessionInfo, error) {
	if err := m.ready(); err != nil {
		return nil, err
	}
	ids, records, err := m.userSessionFields(ctx, userID)
	if err != nil {
		return nil, err
	}
	now, cur := m.clock(), m.currentID(ctx)
	loc, _ := m.Store.(Locator)
	var list []SessionInfo
	for _, id := range ids {
		fields, found := records[id]
		if !found {
			continue // gone since UserSessions looked
		}
		var info SessionInfo
		info.Created, _ = parseMilli(fields, createdField)
		info.LastSeen, _ = parseMilli(fields, seenField)
		info.Deadline, err = parseMilli(fields, deadlineField)
		if err != nil {
			m.warn(ctx, "ListByUser: corrupt session left out", fmt.Errorf("session %s: %w: %w", id, ErrCorrupt, err))
			continue
		}
		if !now.Before(m.expireAt(info.LastSeen, info.Deadline)) {
			continue // expired by our clock, not yet reaped by Redis
		}
		info.ID, info.Current = id, sameID(id, cur)
		if loc != nil {
			info.Shard = loc.Locate(id)
		}
		list = append(list, info)
	}
	return list, nil
}

// userSessionFields returns the IDs of userID's live sessions and the
// bookkeeping fields of each, from a store.UserFieldsIndex or else by loading each
// session; a session that cannot be read as a hash has no fields.
func (m *Manager) userSessionFields(ctx context.Context, userID string) ([]string, map[string]map[string]string, error) {
	names := []string{createdField, seenField, deadlineField}
	if fi, ok := storeAs[store.UserFieldsIndex](m.Store); ok {
		return fi.UserSessionFields(ctx, userID, names...)
	}
	ix, ok := storeAs[UserIndex](m.Store)
	if !ok {
		return nil, nil, fmt.Errorf("ListByUser: %w", ErrNotSupported)
	}
	ids, err := ix.UserSessions(ctx, userID)
	if err != nil {
		return nil, nil, err
	}
	records := make(map[string]map[string]string, len(ids))
	for _, id := range ids {
		fields, found, err := m.Store.Load(ctx, id, store.LoadOptions{Primary: true})
		switch {
		case errors.Is(err, ErrCorrupt):
			records[id] = map[string]string{}
		case err != nil:
			return nil, nil, err
		case found:
			records[id] = fields
		}
	}
	return ids, records, nil
}

// RevokeByUser destroys every session of userID on every shard, or every
// one but the session of ctx when keepCurrent is true ("log out my other
// devices"), and returns how many it destroyed. If the session of ctx is
// revoked, the response expires its cookie.
func (m *Manager) RevokeByUser(ctx context.Context, userID string, keepCurrent bool) (int, error) {
	ix, ok := storeAs[UserIndex](m.Store)
	if !ok {
		return 0, fmt.Errorf("RevokeByUser: %w", ErrNotSupported)
	}
	ids, err := ix.UserSessions(ctx, userID)
	if err != nil {
		return 0, err
	}
	cur := m.currentID(ctx)
	var revoked []string
	var firstErr error
	for _, id := range ids {
		if keepCurrent && sameID(id, cur) {
			continue
		}
		if err := m.Store.Delete(ctx, id); err != nil {
			firstErr = err // keep going: revoke all that can be
			continue
		}
		revoked = append(revoked, id)
	}
	if err := ix.UnindexUser(ctx, userID, revoked...); err != nil && firstErr == nil {
		firstErr = err
	}
	for _, id := range revoked {
		m.publish(ctx, Event{Kind: EventDestroyed, ID: id})
		if cur != "" && sameID(id, cur) {
			m.forget(ctx)
		}
	}
	return len(revoked), firstErr
}

// ID returns the store ID of the session in ctx, a hash of its token, once
// it has been saved ("" before): the name under which ListByUser and events
// report it, and the key (after the cluster's prefix) that holds it in
// Redis.
func (m *Manager) ID(ctx context.Context) string { return m.currentID(ctx) }

// currentID is the store ID of the saved session in ctx, or "".
func (m *Manager) currentID(ctx context.Context) string {
	d, ok := ctx.Value(contextKey{m}).(*data)
	if !ok {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.stored {
		return ""
	}
	return d.sid()
}

// forget empties the session in ctx after its record was deleted elsewhere,
// so that the response expires its cookie.
func (m *Manager) forget(ctx context.Context) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reset(Destroyed)
}

// sameID compares two session IDs in constant time: an ID is derived from a
// secret token, and timing must not reveal how much of it matched.
func sameID(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// afterCreate brings the user index in step with a session just created
// (oldID is the session it renews, or "") and announces it.
func (m *Manager) afterCreate(ctx context.Context, d *data, oldID string) error {
	if err := m.reindex(ctx, d, oldID); err != nil {
		return err
	}
	if oldID != "" {
		m.publish(ctx, Event{Kind: EventRenewed, ID: d.sid(), OldID: oldID})
	} else {
		m.publish(ctx, Event{Kind: EventCreated, ID: d.sid()})
	}
	return nil
}

// afterUpdate brings the user index in step with SetUser.
func (m *Manager) afterUpdate(ctx context.Context, d *data) error {
	if d.user == d.indexedUser {
		d.metaDirty = false
		return nil
	}
	return m.reindex(ctx, d, d.sid())
}

// reindex removes oldID from the index of the user it was listed under and
// adds the session under its current user.
func (m *Manager) reindex(ctx context.Context, d *data, oldID string) error {
	defer func() { d.metaDirty = false }()
	if d.indexedUser == "" && d.user == "" {
		return nil
	}
	ix, ok := storeAs[UserIndex](m.Store)
	if !ok {
		return fmt.Errorf("SetUser: %w", ErrNotSupported)
	}
	if d.indexedUser != "" && oldID != "" {
		if err := ix.UnindexUser(ctx, d.indexedUser, oldID); err != nil {
			return err
		}
	}
	d.indexedUser = ""
	if d.user != "" {
		if err := m.indexUser(ctx, ix, d); err != nil {
			return fmt.Errorf("shardsession: session saved, user index not updated: %w", err)
		}
		d.indexedUser = d.user
	}
	return nil
}

// indexUser adds the session d to its user's index, and ends the user's
// oldest sessions beyond MaxSessionsPerUser (when the Store can bound the
// index, see store.CappedUserIndex). A session that cannot be ended now is only
// logged: it has left the index, and its own expiry ends it.
func (m *Manager) indexUser(ctx context.Context, ix UserIndex, d *data) error {
	capped, ok := storeAs[store.CappedUserIndex](m.Store)
	if !ok || m.MaxSessionsPerUser < 0 {
		return ix.IndexUser(ctx, d.user, d.sid(), d.deadline)
	}
	evicted, err := capped.IndexUserCapped(ctx, d.user, d.sid(), d.deadline, m.MaxSessionsPerUser)
	if err != nil {
		return err
	}
	for _, id := range evicted {
		if err := m.Store.Delete(ctx, id); err != nil {
			m.warn(ctx, "session beyond MaxSessionsPerUser not ended", err)
			continue
		}
		m.publish(ctx, Event{Kind: EventDestroyed, ID: id})
	}
	return nil
}

// afterDestroy removes destroyed sessions from their user's index and
// announces them. Failures are only logged: the session is gone, and a
// stale index member is dropped at the next ListByUser or sweep.
func (m *Manager) afterDestroy(ctx context.Context, d *data, ids []string) {
	if ix, ok := storeAs[UserIndex](m.Store); ok && d.indexedUser != "" && len(ids) > 0 {
		if err := ix.UnindexUser(ctx, d.indexedUser, ids...); err != nil {
			m.warn(ctx, "user index not updated after destroy", err)
		}
	}
	for _, id := range ids {
		m.publish(ctx, Event{Kind: EventDestroyed, ID: id})
	}
}

func (m *Manager) warn(ctx context.Context, msg string, err error) {
	if m.Logger != nil {
		m.Logger.WarnContext(ctx, "session: "+msg, "err", err)
	}
}
