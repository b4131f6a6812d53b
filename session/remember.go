package session

import "context"

// RememberMe sets whether this session's cookie outlives the browser
// session ("remember me" at login): true makes it persistent until the
// session's absolute deadline, false a browser-session cookie. Sessions
// that never call it follow Cookie.Persist. The choice is stored with the
// session, so it holds for the cookies of later requests too.
func (m *Manager) RememberMe(ctx context.Context, remember bool) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	r := int8(-1)
	if remember {
		r = 1
	}
	if d.remember == r {
		return
	}
	d.remember, d.metaDirty, d.cookieDirty, d.status = r, true, true, Modified
}

// persistent reports whether the cookie of the session in ctx should be
// persistent, and whether it must be re-sent even if its token is the same.
func (m *Manager) persistent(ctx context.Context) (persist, resend bool) {
	d := m.data(ctx)
	d.mu.Lock()
	defer d.mu.Unlock()
	resend, d.cookieDirty = d.cookieDirty, false
	switch d.remember {
	case 1:
		return true, resend
	case -1:
		return false, resend
	}
	return m.Cookie.Persist, resend
}
