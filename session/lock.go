package session

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/shardsession/shardsession/store"
)

// LockOptions configure the per-session lock of LoadAndSaveLocked.
type LockOptions struct {
	// TTL frees a lock whose holder crashed or hangs. It should exceed the
	// longest handler it guards. Default 10 s.
	TTL time.Duration

	// Wait bounds how long a request waits for the lock. A request that
	// does not get it in time is served with its session read-only
	// (ReadOnly reports true; Commit of changes fails with ErrReadOnly
	// wrapping ErrLocked). Default 2 s.
	Wait time.Duration
}

// Polling for a held lock backs off from lockPollMin to lockPollMax.
const (
	lockPollMin = 2 * time.Millisecond
	lockPollMax = 50 * time.Millisecond
)

// LoadAndSaveLocked is LoadAndSave for handlers that must not run
// concurrently with another request of the same session (a read-modify-write
// of one value, a multi-step form): it takes the session's lock, a SET NX PX
// on the session's shard, before loading, and frees it (checking that it is
// still the holder, in a Lua script) after saving. A request that cannot get
// the lock within Lock.Wait is served read-only rather than waiting
// forever. New sessions (no valid token yet, or a token that names no
// stored session) need no lock, and none is written for them. The Store
// must be a Locker.
func (m *Manager) LoadAndSaveLocked(next http.Handler) http.Handler {
	return m.loadAndSave(next, true)
}

// lock takes the lock of the session named by clientToken. It returns the
// function that frees it; held is false when the wait ran out.
func (m *Manager) lock(ctx context.Context, clientToken string) (unlock func(), held bool, err error) {
	noop := func() {}
	token, _, _, ok := m.parseClientToken(clientToken)
	if !ok {
		return noop, true, nil
	}
	lk, ok := storeAs[Locker](m.Store)
	if !ok {
		return noop, false, ErrNotSupported
	}
	id, owner := storeID(token), newToken()
	deadline := time.Now().Add(m.Lock.Wait)
	delay := lockPollMin
	for {
		ok, err := lk.TryLock(ctx, id, owner, m.Lock.TTL)
		if errors.Is(err, store.ErrNotFound) {
			return noop, true, nil // no such session: the request gets a new one
		}
		if err != nil {
			return noop, false, err
		}
		if ok {
			return func() {
				// Free it even if the request's context was cancelled.
				uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
				defer cancel()
				if err := lk.Unlock(uctx, id, owner); err != nil {
					m.warn(ctx, "session lock not freed (it expires by itself)", err)
				}
			}, true, nil
		}
		if !time.Now().Add(delay).Before(deadline) {
			return noop, false, nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return noop, false, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
}

// ReadOnly reports whether the session cannot be saved in this request:
// its lock was not obtained (LoadAndSaveLocked) or its shard was down and
// FailOpen served an empty session. Changes to a read-only session make
// Commit fail with ErrReadOnly.
func (m *Manager) ReadOnly(ctx context.Context) bool {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.readOnly
}

// setReadOnly makes the session read-only because of cause.
func (d *data) setReadOnly(cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.readOnly, d.roCause = true, cause
}

// failOpen answers a failed Load under FailOpen: an empty read-only session
// that keeps the request's token (so its cookie is left alone), or err
// unchanged when FailOpen is off or err is not about availability.
func (m *Manager) failOpen(r *http.Request, clientToken string, err error) (*data, error) {
	if !m.FailOpen || !errors.Is(err, ErrUnavailable) {
		return nil, err
	}
	if m.Logger != nil {
		m.Logger.WarnContext(r.Context(), "session: store unavailable, serving a read-only empty session (FailOpen)", "err", err, "path", r.URL.Path)
	}
	d := newData(m.clock(), m.Lifetime)
	if token, version, write, ok := m.parseClientToken(clientToken); ok {
		d.token, d.version, d.write = token, version, write // Commit gives the client back the same token
	}
	d.readOnly, d.roCause = true, err
	return d, nil
}
