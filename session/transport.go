package session

import (
	"crypto/subtle"
	"net/http"
	"net/textproto"
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
	v, ok := cookieValue(r.Header, m.Cookie.Name)
	if !ok || len(v) > maxCookieLen {
		return "", false
	}
	return v, false
}

// maxCookies is net/http's limit on the cookies of a request it parses
// (GODEBUG httpcookiemaxnum left at its default).
const maxCookies = 3000

// cookieValue returns the value of the first valid cookie called name in
// h's Cookie lines: what (*http.Request).Cookie(name).Value gives, without
// its allocations (a slice and a Cookie per call, on every request).
func cookieValue(h http.Header, name string) (string, bool) {
	lines := h["Cookie"]
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if name == "" || len(lines) == 0 || n > maxCookies {
		return "", false
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			k, v, _ := strings.Cut(textproto.TrimString(part), "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

// cookieName reports whether name is a token (RFC 9110 section 5.6.2), the
// only names net/http sends and parses.
func cookieName(name string) bool {
	for i := range len(name) {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return name != ""
}

// validCookieValue reports whether v holds only the bytes net/http accepts
// in a cookie's value.
func validCookieValue(v string) bool {
	for i := range len(v) {
		if b := v[i]; b < 0x20 || b >= 0x7f || b == '"' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
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
