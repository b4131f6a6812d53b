// Package bench measures shardsession against a baseline, side by side in
// one process on the same Redis servers, so that the numbers compare like
// with like.
//
// The baseline, RingStore, is a session.Store written the obvious way on
// go-redis's Ring: HGETALL to load, one pipeline of HDEL/HSET/HINCRBY/
// PEXPIREAT to save. It is what most Go code that shards sessions over Redis
// looks like today.
package bench
