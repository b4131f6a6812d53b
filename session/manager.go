package session

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Manager loads, changes and saves sessions. Set its fields before it
// serves requests and do not change them afterwards; the Manager is then safe
// for concurrent use. A field left at its zero value gets the default its
// comment states, so &Manager{Store: s} works like New(s). The
// configuration is checked once, at LoadAndSave (which panics on a bad one)
// or at the first Load or Commit (which return the error, wrapping
// ErrBadConfig and naming the field).
type Manager struct {
	// Store holds the sessions, typically a *cluster.Cluster. Required.
	Store Store

	// IdleTimeout ends a session that has not been used for this long. The
	// expiry in Redis is pushed forward at most once per IdleTimeout/10, not
	// on every request. Negative disables it. Default 30 minutes.
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
	// 64 KiB; negative: no bound.
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
	// fails with ErrTooLarge and writes nothing. Default 1024; negative: no
	// bound.
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

	// SigningKeys sign the version of the client's last write or read, and
	// the ID of the write that made it, into its token
	// (token.version-write.mac, HMAC-SHA256), so that replica reads never
	// return a session older than the client's own writes, nor one the
	// client has not seen at its version (see signed.go). The
	// first key signs, all verify: to rotate, put the new key first and
	// drop the old one once tokens signed with it have expired. Each key
	// must be at least 32 random bytes and the same on every web node.
	// Default none: tokens carry no version and every load reads the
	// primary, whatever the cluster's read policy.
	SigningKeys [][]byte

	// MaxSessionsPerUser bounds the sessions of one user (SetUser): the
	// Commit that would list one more ends the user's oldest sessions (the
	// earliest absolute deadlines) to make room, like a login on a device
	// beyond the limit. Default 100; negative: no bound.
	MaxSessionsPerUser int

	// KeepTokenOnSetUser stops SetUser from renewing the token when the
	// session's user changes. Default false: a change of user is a change of
	// privilege, and SetUser renews the token (as RenewToken does) so that a
	// token planted before login is worthless after it (session fixation).
	KeepTokenOnSetUser bool

	// AcceptUnsignedTokens, with SigningKeys, also accepts a bare token
	// (one without a signed version, as issued before SigningKeys were set):
	// it is read from the primary and re-issued signed. Turn it on while
	// adding keys to a running deployment, off once its bare tokens have
	// expired. Default false: with SigningKeys, a token without a valid
	// signature names no session.
	AcceptUnsignedTokens bool

	// now is the clock; tests replace it.
	now func() time.Time

	// decodeSharedFn is m.decodeShared, made once: a method value made on
	// every load would be an allocation per request.
	decodeSharedFn func(fields map[string]string) (any, int, error)

	initOnce  sync.Once
	initErr   error     // the configuration's problems, from validate
	plainHTTP sync.Once // the warning about Secure cookies over HTTP
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
	m := &Manager{Store: store}
	m.setDefaults()
	return m
}

// defaultCookie is the cookie of New.
var defaultCookie = Cookie{
	Name:     "__Host-session",
	Path:     "/",
	Persist:  true,
	SameSite: http.SameSiteLaxMode,
	Secure:   true,
	HttpOnly: true,
}

// setDefaults gives every field left at its zero value its default.
func (m *Manager) setDefaults() {
	if m.IdleTimeout == 0 {
		m.IdleTimeout = 30 * time.Minute
	}
	if m.Lifetime == 0 {
		m.Lifetime = 24 * time.Hour
	}
	if m.Cookie == (Cookie{}) {
		m.Cookie = defaultCookie
	}
	if m.Cookie.Name == "" {
		m.Cookie.Name = defaultCookie.Name
	}
	if m.Cookie.Path == "" {
		m.Cookie.Path = "/"
	}
	if m.Cookie.SameSite == 0 {
		m.Cookie.SameSite = http.SameSiteLaxMode
	}
	if m.Codec == nil {
		m.Codec = GobCodec{}
	}
	if m.MaxSize == 0 {
		m.MaxSize = 64 << 10
	}
	if m.MaxFields == 0 {
		m.MaxFields = 1024
	}
	if m.MaxSessionsPerUser == 0 {
		m.MaxSessionsPerUser = 100
	}
	if m.Lock.TTL == 0 {
		m.Lock.TTL = 10 * time.Second
	}
	if m.Lock.Wait == 0 {
		m.Lock.Wait = 2 * time.Second
	}
	if m.Logger == nil {
		m.Logger = slog.Default()
	}
	if m.ResponseTokenHeader == "" {
		m.ResponseTokenHeader = "Session-Token"
	}
}

// ready fills the defaults and checks the configuration the first time it
// is called, and returns the check's error every time.
func (m *Manager) ready() error {
	m.initOnce.Do(func() {
		m.setDefaults()
		m.decodeSharedFn = m.decodeShared
		m.initErr = m.validate()
	})
	return m.initErr
}

// validate reports every field whose value cannot work, by name.
func (m *Manager) validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	if m.Store == nil {
		bad("Store is nil")
	}
	if m.Lifetime < 0 || m.Lock.TTL < 0 || m.Lock.Wait < 0 {
		bad("Lifetime %v, Lock.TTL %v, Lock.Wait %v: durations must not be negative", m.Lifetime, m.Lock.TTL, m.Lock.Wait)
	}
	c := m.Cookie
	if !cookieName(c.Name) {
		bad("Cookie.Name %q is not a cookie name (letters, digits and !#$%%&'*+-.^_`|~ only)", c.Name)
	}
	if strings.HasPrefix(c.Name, "__Host-") || strings.HasPrefix(c.Name, "__Secure-") {
		if !c.Secure {
			bad("Cookie.Name %q needs Cookie.Secure (browsers drop the cookie otherwise); over plain HTTP use another name", c.Name)
		}
	}
	if strings.HasPrefix(c.Name, "__Host-") && (c.Domain != "" || c.Path != "/") {
		bad("Cookie.Name %q needs no Cookie.Domain (have %q) and Cookie.Path \"/\" (have %q)", c.Name, c.Domain, c.Path)
	}
	if err := m.checkKeys(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// warnPlainHTTP logs, once, that the Secure cookie of a plain-HTTP request
// will not come back: the browser sends it over HTTPS only. A request that
// a proxy terminated TLS for says so in X-Forwarded-Proto or Forwarded.
func (m *Manager) warnPlainHTTP(r *http.Request) {
	if !m.Cookie.Secure || r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") ||
		strings.Contains(strings.ToLower(r.Header.Get("Forwarded")), "proto=https") {
		return
	}
	m.plainHTTP.Do(func() {
		m.Logger.WarnContext(r.Context(), "session: Cookie.Secure is set but the request came over plain HTTP: the browser will not send the cookie back, so every request gets a new session; serve HTTPS, have the proxy set X-Forwarded-Proto, or set Cookie.Secure false (and a name without __Host-) for local HTTP",
			"host", r.Host)
	})
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
