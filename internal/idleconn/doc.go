// Package idleconn closes the pooled connections of go-redis clients that
// have carried nothing for a while.
//
// go-redis looks at a pooled connection's idle time (ConnMaxIdleTime) only
// when it takes the connection from its pool, and it takes the most
// recently used first, so the connections a burst opened stay open behind
// the few that steady traffic uses, for as long as the process runs: a
// fleet of web nodes would hold on every Redis server every connection its
// worst burst opened. A Reaper watches a client's connections (a dial
// hook) and closes each that carried nothing for its idle time; the pool's
// health check finds it closed when it next takes it, and dials a new one.
package idleconn
