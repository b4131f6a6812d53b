// Package store is the contract between package session and the storage
// behind it: the Store interface, its optional capabilities, and the plain
// types they exchange (Write, LoadOptions, ReadInfo, Event) and the errors
// they return.
//
// It is a leaf: it imports only the standard library, so that a backend
// (the ring of independent primaries in package cluster, a Redis Cluster, an
// in-memory store for tests, a baseline in package bench) implements the
// contract without importing any other backend. As in scs, a Store is a
// handful of methods over bytes and times; what a backend can do beyond that
// (iterate, index users, lock, publish events) is a separate interface that
// package session finds by type assertion.
//
// A session record is a flat map of fields. Two field names are the
// contract's own: VersionField, the record's version, bumped by every Create
// and Update, and WriteField, the ID of the last write applied; Version reads
// the first.
package store
