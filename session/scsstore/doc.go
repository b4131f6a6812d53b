// Package scsstore lets an application that uses github.com/alexedwards/scs/v2
// keep its sessions in a shardsession cluster by changing one line:
//
//	sessionManager := scs.New()
//	sessionManager.Store = scsstore.New(c) // c is a *cluster.Cluster
//
// scs encodes a session into one opaque blob with an expiry; Store keeps the
// blob in one field of the session's Redis hash on the shard that owns the
// token, with the expiry as the key's absolute expiry. Everything else (the
// ring, the shard clients, error classification, and whatever the cluster adds
// such as replica reads) is the cluster's.
//
// Store implements scs.Store, scs.CtxStore and scs.IterableStore (and
// scs.IterableCtxStore); All scans every shard, so use it for administration,
// not on the request path. It lives in its own package so that the core of
// shardsession does not depend on scs.
package scsstore
