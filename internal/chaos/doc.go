// Package chaos hurts a Sentinel-managed shardsession topology while web-like
// clients use it, and measures what the clients saw.
//
// An [Env] is a topology whose nodes can be killed, paused and cut off the
// network: [StartProcesses] runs real redis-server / redis-sentinel
// processes on loopback (package redistest; kill is SIGKILL, pause is
// SIGSTOP, there is no partition), [StartDocker] runs the same binaries in
// containers on a private docker network (kill, pause, network
// disconnect), built into a local image because this project's machines
// have no registry.
//
// A [Load] is N clients doing login / read / write / logout against a
// cluster.Cluster that follows the sentinels; [Run] plays a [Scenario]
// through it (kill a primary, pause it past down-after, partition it, kill
// a replica, log out just before a kill) and returns a [Report]: requests,
// errors, the write-outage window, READONLY / EOF errors that reached
// callers, acknowledged writes lost, logged-out sessions that came back.
//
// The tests of this package run every scenario on processes, and on
// containers when a Docker engine answers. Set SHARDSESSION_CHAOS_SOAK to a
// duration (e.g. 60s) to let the load run that long around each fault.
package chaos
