// Package chaos hurts a shardsession topology while web-like clients use
// it, and measures what the clients saw: a ring of Sentinel-managed shards
// (package cluster) or a Redis Cluster (package rediscluster).
//
// An [Env] is a topology whose nodes can be killed, paused and cut off the
// network: [StartProcesses] runs real redis-server / redis-sentinel
// processes on loopback (package redistest; kill is SIGKILL, pause is
// SIGSTOP, there is no partition), [StartDocker] runs the same binaries in
// containers on a private docker network (kill, pause, network
// disconnect), built into a local image because this project's machines
// have no registry, and [StartRedisCluster] runs a Redis Cluster of
// redis-server processes on loopback. On a Redis Cluster a shard is a
// master as it was at start, standing for its slots.
//
// A [Load] is N clients doing login / read / write / logout against a
// [Client] of the env's store (a cluster.Cluster that follows the
// sentinels, or a rediscluster.Cluster); [Run] plays a [Scenario] through
// it (kill a primary, pause it past down-after, partition it, kill a
// replica, log out just before a kill) and returns a [Report]: requests,
// errors, the write-outage window, READONLY / EOF errors that reached
// callers, acknowledged writes lost, logged-out sessions that came back.
// The load, the measuring and the verification are the same on both
// backends; only the Env differs.
//
// The tests of this package run every scenario on processes, and on
// containers when a Docker engine answers, and the Redis Cluster
// scenarios on processes. Set SHARDSESSION_CHAOS_SOAK to a duration (e.g.
// 60s) to let the load run that long around each fault.
package chaos
