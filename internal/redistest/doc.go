// Package redistest starts and stops real redis-server and redis-sentinel
// processes on free loopback (127.0.0.1) ports.
//
// It serves the tests of shardsession, and also the CLI demo and the
// benchmark harness, which are not tests. The core API ([Start],
// [StartSentinel], [StartTopology], [StartRedisCluster]) therefore takes a
// [context.Context] and no *testing.T; the thin helpers [NewServer],
// [NewTopology] and [NewRedisCluster] wrap it for tests and register
// t.Cleanup.
//
// Every process logs to a file in its own working directory, so tests stay
// quiet; when a start fails, the tail of that log is part of the error.
// Processes are started in their own process group, and Close is always
// safe to call, so no process outlives the program that started it. On
// Linux they are also killed by the kernel if the starting program dies
// (Pdeathsig); that signal is tied to the OS thread that started the
// process, so do not call Start from a goroutine locked to a thread
// (runtime.LockOSThread) that exits before the process should.
//
// The binaries come from the Debian packages redis-server, redis-sentinel
// and, for a Redis Cluster, redis-tools (redis-cli). When
// they are missing, Start returns an error wrapping [ErrNotInstalled] and
// the test helpers fail the test; they never skip silently.
//
// Concurrency: every method of [Server], [Sentinel], [Topology] and
// [RedisCluster] is safe for concurrent use.
package redistest
