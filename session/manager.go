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
	// Default: 503 Service Unavailable for ErrUnavailable and ErrNotReplicated,
	// 409 Conflict for ErrConflict and ErrLocked, 500 otherwise,
	// with the error logged to Logger.
	ErrorFunc func(http.ResponseWriter, *http.Request, error)

	// Logger receives errors and warnings; session tokens are never logged.
	// Default slog.Default().
	Logger *slog.Logger

	// MaxFields bounds the number of values in a session; a Commit over it
	// fails with ErrTooLarge and writes nothing. Default 1024.
	MaxFields int

	// SaveAlways pushes the idle expiry forward on every request that
	// loads a session (express-session's "resave"), instead of only when
	// values changed or a tenth of IdleTimeout has passed (the default,
	// "save on change"). Values are written only when they changed, in
	// either mode.
	SaveAlways bool

	// Optimistic makes saves compare-and-set on the session's version: a
	// Commit of a session that another request saved after this one loaded
	// it fails with ErrConflict instead of writing over it (unless Merge
	// resolves it). Default false: concurrent requests that change
	// different keys both survive, and the last write of one key wins.
	Optimistic bool

	// Merge, with Optimistic, resolves a conflict instead of failing: it is
	// given the values now stored and this request's values, and returns
	// the values to save, which are then compare-and-set again (at most
	// five attempts in all). Default nil: conflicts fail with ErrConflict.
	// Merge may modify and return either map.
	Merge func(stored, mine map[string]any) map[string]any

	// Lock configures the per-session lock of LoadAndSaveLocked.
	Lock LockOptions

	// PublishEvents announces created, renewed and destroyed sessions on
	// the session's shard for WatchEvents on every node, at the cost of one
	// PUBLISH per such event. Expired events need no publishing. Default
	// false.
	PublishEvents bool

	// FailOpen serves a request whose session's shard is unavailable with
	// an empty, read-only session (ReadOnly reports true; Commit of changes
	// fails with ErrReadOnly) and logs a warning, instead of answering
	// through ErrorFunc (503 by default). Default false: fail closed.
	FailOpen bool

	// TokenHeader, if set, is a request header that carries the session
	// token for API clients, checked before the cookie: "Authorization"
	// means "Authorization: Bearer <token>"; any other name carries the
	// bare token. A request that sent its token in the header gets a new or
	// changed token back in the response header ResponseTokenHeader, and no
	// cookie. Default "": cookies only.
	TokenHeader string

	// ResponseTokenHeader is the response header that returns a new or
	// changed token to a client that sent its token in TokenHeader (empty
	// when the session was destroyed). Default "Session-Token".
	ResponseTokenHeader string

	// SigningKeys sign the version of the client's last write into its token
	// (token.version.mac, HMAC-SHA256), so that replica reads never return
	// a session older than the client's own writes (see signed.go). The
	// first key signs, all verify: to rotate, put the new key first and
	// drop the old one once tokens signed with it have expired. Each key
	// must be at least 32 random bytes and the same on every web node.
	// Default none: tokens carry no version and every load reads the
	// primary, whatever the cluster's read policy.
	SigningKeys [][]byte

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
		Codec:     GobCodec{},
		MaxSize:   64 << 10,
		MaxFields: 1024,
		Lock:      LockOptions{TTL: 10 * time.Second, Wait: 2 * time.Second},
		Logger:    slog.Default(),

		ResponseTokenHeader: "Session-Token",
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
	if errors.Is(err, ErrConflict) || errors.Is(err, ErrLocked) {
		http.Error(w, "session changed by another request, try again", http.StatusConflict)
		return
	}
	if errors.Is(err, ErrUnavailable) {
		http.Error(w, "session store unavailable, try again", http.StatusServiceUnavailable)
		return
	}
	if errors.Is(err, ErrNotReplicated) {
		http.Error(w, "session saved but not yet replicated, try again", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
