// Package bench measures shardsession against a baseline, side by side in
// one process on the same Redis servers, so that the numbers compare like
// with like.
//
// The baseline, RingStore, is a session.Store written the obvious way on
// go-redis's Ring: HGETALL to load, one pipeline of HDEL/HSET/HINCRBY/
// PEXPIREAT to save. It is what most Go code that shards sessions over Redis
// looks like today. RueidisStore is the strongest peer: rueidis with its
// client-side cache (DoCache) for loads and DoMulti for saves.
//
// OpenStores opens the stores by name over one set of shards; Run drives
// one store with a Workload of requests through the session middleware and
// measures throughput and HDR latency percentiles; a Sweep runs every store
// at several concurrencies and read mixes, stores taking turns; a Report
// prints the results as a table with ratios to the baseline, as JSON, or
// as an SVG plot. `shardsession bench` is the command line for all of it,
// and the testing.B benchmarks of this package use the same stores and
// handler.
package bench
