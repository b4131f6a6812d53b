// Package failover keeps a shard serving through the loss of a node: it
// says where a shard's Sentinel is (Options), follows Sentinel's
// +switch-master events, and puts a circuit
// breaker in front of every node so that a dead node costs one timeout, not
// one per request.
//
// Promotion itself is Sentinel's job; this package only follows it:
//
//   - A [Watcher] subscribes to +switch-master, +odown and -odown on every
//     sentinel (over TLS with Options.TLSConfig), logs each switch with
//     log/slog (shard name, old and new address), and a sentinel it cannot
//     follow, and tells its listeners: the shard resets its breaker on a
//     switch and trips it at once on a +odown of its primary when that
//     node has gone quiet (a sentinel may flag a node it has just promoted,
//     or report a deposed one late).
//   - A [Breaker] counts consecutive failures of one node; after
//     BreakerOptions.Failures of them it opens for a backoff window during
//     which commands fail at once with [ErrCircuitOpen], then lets a single
//     probe through (half-open). Its [Breaker.Hook] installs it on a
//     go-redis client.
//
// The process keeps one connection per sentinel, whatever the number of
// shards and Watchers: a RESP3 connection subscribed to those channels,
// which carries the questions to the sentinel too ([Watcher.Sentinels]).
//
// Package shard wires these together (shard.Options.Sentinel and
// shard.Options.Breaker): its primary's client dials the node the Watcher
// last heard named, asking the sentinels when it knows none, with
// fail-fast retry settings so that a request does not spend seconds
// retrying a dead address (go-redis #3540); package failover knows nothing
// of sessions or of the ring.
package failover
