package session

import (
	"crypto/subtle"
	"net/http"
	"strings"
	"time"
)

// requestToken returns the request's session token and whether it came in
// TokenHeader rather than the cookie; "" when there is none or it is too
// long to be one of ours.
func (m *Manager) requestToken(r *http.Request) (token string, viaHeader bool) {
	if m.TokenHeader != "" {
		if t, ok := parseTokenHeader(m.TokenHeader, r.Header.Get(m.TokenHeader)); ok {
			return t, true
		}
	}
	c, err := r.Cookie(m.Cookie.Name)
	if err != nil || len(c.Value) > maxCookieLen {
		return "", false
	}
	return c.Value, false
}

// parseTokenHeader extracts the token from the value of header name:
// "Bearer <token>" for Authorization (scheme case-insensitive, RFC 6750),
// the bare value otherwise.
func parseTokenHeader(name, value string) (string, bool) {
	if value == "" || len(value) > maxCookieLen {
		return "", false
	}
	if strings.EqualFold(name, "Authorization") {
		scheme, t, ok := strings.Cut(value, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		value = strings.TrimSpace(t)
	}
	return value, value != ""
}

// sendToken tells the client its new token (or, for "", that it has none):
// in ResponseTokenHeader if the request sent its token in a header, else in
// the cookie.
func (m *Manager) sendToken(w http.ResponseWriter, viaHeader bool, token string, deadline time.Time, persist bool) {
	if viaHeader {
		w.Header().Set(m.ResponseTokenHeader, token)
		w.Header().Set("Cache-Control", "no-store")
		return
	}
	m.writeCookie(w, token, deadline, persist)
}

// sameToken compares tokens in constant time.
func sameToken(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
