// Package history checks what clients of a shardsession fleet saw while
// the topology failed under them, in the manner of Jepsen: it records every
// request as an operation with its start, end and outcome, then checks the
// whole history.
//
// A [Run] starts 3 shards × (primary + 2 replicas) under 3 sentinels
// (down-after 1 s; package redistest), several web nodes, each with its own
// cluster.Cluster found through the sentinels, reading from replicas with
// signed tokens (session.Manager), and clients that go through real HTTP,
// round-robin over the web nodes, each holding one session at a time:
// write a new value, read it back, log out, and now and then present the
// token of a session it logged out of. Meanwhile a nemesis hurts the
// primary of each shard in turn ([Pause] past down-after, then resume;
// [Kill], then restart it empty; or, as the checker's own control,
// [RestartEmpty]: kill and restart the primary at once, before the
// sentinels notice, so the shard loses its data).
//
// [Check] then looks at the history per session: it is linearizable as a
// register (github.com/anishathalye/porcupine; a write or logout whose
// answer was lost may have taken effect at any time after it began), every
// read returns at least the session's last acknowledged write
// (read-your-writes) and never less than an earlier read (monotonic reads),
// a logged-out session is never read again (resurrection), a live session
// is never read as missing (a silently empty read), and the last
// acknowledged write is there at the end. The [Report] is one row of the
// table in docs/operations.md.
//
// The tests run each scenario for a short load (LoadFromEnv; set
// SHARDSESSION_HISTORY_LOAD, e.g. 60s, for a longer one, and
// SHARDSESSION_HISTORY_RUNS to run each scenario several times).
package history
