package session

import (
	"fmt"
	"time"
)

// Bookkeeping fields of a session record besides created/deadline/seen.
const (
	userField     = "_u" // the user ID given to SetUser
	rememberField = "_r" // "1": persistent cookie, "0": browser-session cookie
)

// meta is the part of a session's data that is about the session rather
// than its values: whose it is, how its cookie lives, whether it may be
// written. It is guarded by data.mu.
type meta struct {
	// id is the store ID of a session reached without its token (Iterate).
	id string

	user        string // SetUser's user ID, "" if none
	indexedUser string // the user whose index lists this session
	remember    int8   // 0: Cookie.Persist; 1: persistent; -1: browser session
	metaDirty   bool   // user or remember changed since load
	cookieDirty bool   // the cookie must be re-sent though the token is the same

	// readOnly sessions are never written; roCause says why (ErrLocked,
	// ErrUnavailable under FailOpen).
	readOnly bool
	roCause  error
}

func (mt *meta) decode(fields map[string]string) {
	mt.user = fields[userField]
	mt.indexedUser = mt.user
	switch fields[rememberField] {
	case "1":
		mt.remember = 1
	case "0":
		mt.remember = -1
	}
}

// put adds the bookkeeping fields to set and returns those to delete.
func (mt *meta) put(set map[string][]byte) (del []string) {
	if mt.user != "" {
		set[userField] = []byte(mt.user)
	} else {
		del = append(del, userField)
	}
	switch mt.remember {
	case 1:
		set[rememberField] = []byte("1")
	case -1:
		set[rememberField] = []byte("0")
	}
	return del
}

// sid is the store ID of the session: the hash of its token, or the ID it
// was found under.
func (d *data) sid() string {
	if d.id != "" {
		return d.id
	}
	return storeID(d.token)
}

// commitReadOnly ends a read-only request: a session that was changed is
// reported (its changes are not saved), an unchanged one keeps its cookie.
func (d *data) commitReadOnly() (string, time.Time, error) {
	if d.status != Unmodified {
		return "", time.Time{}, d.readOnlyErr()
	}
	return d.token, d.deadline, nil
}

func (d *data) readOnlyErr() error {
	return fmt.Errorf("%w: %w", ErrReadOnly, d.roCause)
}

// maxUserLen bounds the user ID given to SetUser, in bytes: it is stored in
// the session and names the user's index key in Redis.
const maxUserLen = 512

// checkLimits enforces MaxSize, MaxFields and the user ID's length on a
// session about to be written; size is its encoded size.
func (m *Manager) checkLimits(d *data, size int) error {
	if m.MaxSize >= 0 && size > m.MaxSize {
		return fmt.Errorf("%w: %d bytes > MaxSize %d", ErrTooLarge, size, m.MaxSize)
	}
	if m.MaxFields >= 0 && d.numValues() > m.MaxFields {
		return fmt.Errorf("%w: %d values > MaxFields %d", ErrTooLarge, d.numValues(), m.MaxFields)
	}
	if len(d.user) > maxUserLen {
		return fmt.Errorf("%w: user ID of %d bytes > %d", ErrTooLarge, len(d.user), maxUserLen)
	}
	return nil
}
