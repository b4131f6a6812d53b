package session

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// errNotSaved is what a handler's writes return once the session could not
// be saved and ErrorFunc has answered the request instead.
var errNotSaved = errors.New("shardsession: session not saved; the response was answered by ErrorFunc")

// maxCookieLen is the longest cookie value worth parsing; browsers cap a
// cookie at about 4 KiB anyway.
const maxCookieLen = 4096

// LoadAndSave is net/http middleware: it loads the request's session before
// next runs and saves it, setting or expiring the cookie, just before the
// response's header is written (or after next returns, if next writes
// nothing). If the session cannot be loaded or saved, ErrorFunc answers
// instead and next's output is discarded. It panics if the Manager's
// configuration is bad (see ErrBadConfig): that is a programming error,
// better found at start-up than on every request.
func (m *Manager) LoadAndSave(next http.Handler) http.Handler {
	return m.loadAndSave(next, false)
}

func (m *Manager) loadAndSave(next http.Handler, locked bool) http.Handler {
	if err := m.ready(); err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The response depends on the cookie (and the token header): keep
		// shared caches from serving one user's page to another.
		addVaryCookie(w.Header())
		if m.TokenHeader != "" {
			w.Header().Add("Vary", m.TokenHeader)
		}
		token, viaHeader := m.requestToken(r)
		if viaHeader {
			// An API response is about the token's user whether or not the
			// token changed: no cache may keep it.
			w.Header().Set("Cache-Control", "no-store")
		} else {
			m.warnPlainHTTP(r)
		}
		unlock, held := func() {}, true
		if locked {
			var err error
			if unlock, held, err = m.lock(r.Context(), token); err != nil {
				m.handleError(w, r, err)
				return
			}
			defer unlock()
		}
		ctx := r.Context()
		d, loaded := ctx.Value(contextKey{m}).(*data) // by an outer LoadAndSave or Load
		if !loaded {
			var err error
			if d, err = m.load(ctx, token, m.clock()); err != nil {
				if d, err = m.failOpen(r, token, err); err != nil {
					m.handleError(w, r, err)
					return
				}
			}
		}
		if !held {
			d.setReadOnly(ErrLocked)
		}
		st := &requestState{}
		if !loaded {
			st.ctx = sessionContext{Context: ctx, key: contextKey{m}, d: d}
			r = r.WithContext(&st.ctx)
		}
		st.w = responseWriter{ResponseWriter: w, m: m, r: r, token: token, viaHeader: viaHeader}
		sw := &st.w
		next.ServeHTTP(sw, r)
		sw.commit()
	})
}

// varyCookie is the Vary header of a response that has none yet, shared by
// all of them: no Header method writes into a value it holds (Add appends
// past its capacity, so into a copy; Set replaces it).
var varyCookie = []string{"Cookie"}

// addVaryCookie adds "Vary: Cookie" to h.
func addVaryCookie(h http.Header) {
	if v, ok := h["Vary"]; ok {
		h["Vary"] = append(v, "Cookie")
		return
	}
	h["Vary"] = varyCookie[:1:1]
}

// writeCookie sets the session cookie to token, or expires it when token
// is "".
func (m *Manager) writeCookie(w http.ResponseWriter, token string, deadline time.Time, persist bool) {
	c := &http.Cookie{
		Name:     m.Cookie.Name,
		Value:    token,
		Domain:   m.Cookie.Domain,
		Path:     m.Cookie.Path,
		Secure:   m.Cookie.Secure,
		HttpOnly: m.Cookie.HttpOnly,
		SameSite: m.Cookie.SameSite,
	}
	switch {
	case token == "":
		c.Expires = time.Unix(1, 0)
		c.MaxAge = -1
	case persist:
		c.Expires = deadline.UTC()
		c.MaxAge = int(time.Until(deadline).Seconds()) + 1
	}
	w.Header().Add("Set-Cookie", c.String())
	w.Header().Add("Cache-Control", `no-cache="Set-Cookie"`)
}

// requestState is what LoadAndSave allocates for a request, in one piece:
// the context that carries the session and the writer that commits it.
type requestState struct {
	ctx sessionContext
	w   responseWriter
}

// sessionContext is context.WithValue(Context, key, d) in a form that can
// share an allocation.
type sessionContext struct {
	context.Context
	key contextKey
	d   *data
}

func (c *sessionContext) Value(key any) any {
	if k, ok := key.(contextKey); ok && k == c.key {
		return c.d
	}
	return c.Context.Value(key)
}

// responseWriter commits the session before the first byte of the response
// goes out, while the cookie can still be set.
type responseWriter struct {
	http.ResponseWriter
	m     *Manager
	r     *http.Request
	token string // the token the request came with
	done  bool

	viaHeader bool // the token came in Manager.TokenHeader
	failed    bool
}

// commit saves the session once and writes the cookie if it changed.
func (sw *responseWriter) commit() {
	if sw.done {
		return
	}
	sw.done = true
	token, deadline, err := sw.m.Commit(sw.r.Context())
	if errors.Is(err, ErrNotReplicated) && token != "" {
		// Saved on the primary: the client must hold its token, whatever
		// ErrorFunc makes of the missing replica confirmations.
		persist, _ := sw.m.persistent(sw.r.Context())
		sw.m.sendToken(sw.ResponseWriter, sw.viaHeader, token, deadline, persist)
	}
	if err != nil {
		sw.failed = true
		sw.m.handleError(sw.ResponseWriter, sw.r, err)
		return
	}
	persist, resend := sw.m.persistent(sw.r.Context())
	if !sameToken(token, sw.token) || resend {
		sw.m.sendToken(sw.ResponseWriter, sw.viaHeader, token, deadline, persist)
	}
}

func (sw *responseWriter) WriteHeader(code int) {
	sw.commit()
	if !sw.failed {
		sw.ResponseWriter.WriteHeader(code)
	}
}

func (sw *responseWriter) Write(b []byte) (int, error) {
	sw.commit()
	if sw.failed {
		return 0, errNotSaved
	}
	return sw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush, Hijack and deadlines.
func (sw *responseWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }
