package session

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Manager loads, changes and saves sessions. Set its fields before it
// serves requests and do not change them afterwards; the Manager is then safe
// for concurrent use.
type Manager struct {
	// Store holds the sessions, typically a *cluster.Cluster. Required.
	Store Store

	// IdleTimeout ends a session that has not been used for this long. The
	// expiry in Redis is pushed forward at most once per IdleTimeout/10, not
	// on every request. Zero disables it. Default 30 minutes.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after it was created, however busy
	// it is (the absolute timeout). Renewing the token does not extend it.
	// Default 24 hours.
	Lifetime time.Duration

	// Cookie configures the session cookie.
	Cookie Cookie

	// Codec encodes session values. Default GobCodec.
	Codec Codec

	// MaxSize bounds the encoded size of a session's values, in bytes; a
	// Commit over it fails with ErrTooLarge and writes nothing. Default
	// 64 KiB.
	MaxSize int

	// ErrorFunc answers a request whose session could not be loaded or saved.
	// Default: 503 Service Unavailable for ErrUnavailable, 500 otherwise,
	// with the error logged to Logger.
	ErrorFunc func(http.ResponseWriter, *http.Request, error)

	// Logger receives errors and warnings; session tokens are never logged.
	// Default slog.Default().
	Logger *slog.Logger

	// now is the clock; tests replace it.
	now func() time.Time
}

// Cookie configures the session cookie. The defaults follow the OWASP
// Session Management Cheat Sheet.
type Cookie struct {
	// Name of the cookie. Default "__Host-session": browsers accept a
	// __Host- cookie only if it is Secure, has Path "/" and no Domain, so it
	// cannot be set by a sibling subdomain. A plain-HTTP deployment (a local
	// demo) must use another name and Secure: false.
	Name string

	// Domain of the cookie. Default none: the cookie goes back only to the
	// host that set it.
	Domain string

	// Path of the cookie. Default "/".
	Path string

	// Persist makes the cookie outlive the browser session, until the
	// session's absolute deadline. Default true.
	Persist bool

	// SameSite default http.SameSiteLaxMode.
	SameSite http.SameSite

	// Secure sends the cookie over HTTPS only. Default true.
	Secure bool

	// HttpOnly hides the cookie from JavaScript. Default true.
	HttpOnly bool
}

// New returns a Manager storing sessions in store, with the defaults
// documented on each field.
func New(store Store) *Manager {
	return &Manager{
		Store:       store,
		IdleTimeout: 30 * time.Minute,
		Lifetime:    24 * time.Hour,
		Cookie: Cookie{
			Name:     "__Host-session",
			Path:     "/",
			Persist:  true,
			SameSite: http.SameSiteLaxMode,
			Secure:   true,
			HttpOnly: true,
		},
		Codec:   GobCodec{},
		MaxSize: 64 << 10,
		Logger:  slog.Default(),
	}
}

func (m *Manager) clock() time.Time {
	if m.now != nil {
		return m.now()
	}
	return time.Now()
}

// expireAt is when a session last seen at seen with the given absolute
// deadline stops being valid.
func (m *Manager) expireAt(seen, deadline time.Time) time.Time {
	if m.IdleTimeout > 0 {
		if idle := seen.Add(m.IdleTimeout); idle.Before(deadline) {
			return idle
		}
	}
	return deadline
}

// touchDue reports whether an unmodified session last seen at seen should
// have its idle expiry pushed forward now.
func (m *Manager) touchDue(seen, now time.Time) bool {
	return m.IdleTimeout > 0 && now.Sub(seen) >= m.IdleTimeout/10
}

func (m *Manager) handleError(w http.ResponseWriter, r *http.Request, err error) {
	if m.ErrorFunc != nil {
		m.ErrorFunc(w, r, err)
		return
	}
	if m.Logger != nil {
		m.Logger.ErrorContext(r.Context(), "session", "err", err, "path", r.URL.Path)
	}
	if errors.Is(err, ErrUnavailable) {
		http.Error(w, "session store unavailable, try again", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
