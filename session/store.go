package session

import "github.com/shardsession/shardsession/store"

// Store is where session records live: see store.Store for its contract.
// *cluster.Cluster and *cluster.NearCache implement it.
type Store = store.Store

// Locator is an optional Store capability: the name of the shard that holds
// a session (for logs, metrics and the demo).
type Locator = store.Locator
