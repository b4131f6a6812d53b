// Package gorillastore is a github.com/gorilla/sessions Store that keeps
// sessions in a shardsession cluster, for applications that already use
// gorilla/sessions:
//
//	store, err := gorillastore.New(c, hashKey) // c is a *cluster.Cluster
//	session, err := store.Get(r, "session-name")
//	session.Values["user"] = "ada"
//	err = session.Save(r, w)
//
// Like gorilla's FilesystemStore, the cookie carries only the session ID,
// signed (and, given an encryption key, encrypted) with
// github.com/gorilla/securecookie; the values live in one field of the
// session's Redis hash on the shard that owns the ID, gob-encoded by the same
// codecs, and expire with Options.MaxAge. Sessions are bounded by
// MaxLength (default 64 KiB, not securecookie's 4 KiB cookie limit). It lives in its own package so that
// the core of shardsession does not depend on gorilla.
package gorillastore
