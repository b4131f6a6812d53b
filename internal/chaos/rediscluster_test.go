package chaos

import (
	"testing"
)

// What the Redis Cluster rows must show. A master down must not fail the
// requests for other masters' slots, and a write WAIT 1 confirmed
// survives its master (everywhere). Logouts: a DEL that WAIT 1 confirmed
// is on the promoted replica, so with the replica keeping up none comes
// back (noResurrection). With the replica frozen, Delete returns
// ErrNotReplicated for the DELs it missed, which the burst does not count
// as logouts; rediscluster has no revocation journal, so a logout it
// acknowledged while the replica lags is not guaranteed to stay: those
// rows are reported, not judged.
var redisClusterScenarios = []scenarioCase{
	{"1-kill-master/no-wait", Scenario{Fault: KillPrimary, Mode: NoWait}, noResurrection, Options{}},
	{"1-kill-master/wait-1", Scenario{Fault: KillPrimary, Mode: Wait1}, noResurrection, Options{}},
	// min-replicas-to-write 1 needs two replicas per master: the promoted
	// master must still have one, or it refuses every write.
	{"1-kill-master/wait-1-min-replicas", Scenario{Fault: KillPrimary, Mode: Wait1MinReplica}, noResurrection, Options{Replicas: 2}},
	{"2-pause-master", Scenario{Fault: PausePrimary, Mode: Wait1}, rejoins, Options{}},
	{"5-logout-then-kill", Scenario{Fault: LogoutThenKill}, noResurrection, Options{}},
	{"5-logout-then-kill/replica-lagging", Scenario{Fault: LogoutThenKill, LagReplica: true}, everywhere, Options{}},
	{"5-logout-then-kill/unprotected", Scenario{Fault: LogoutThenKill, Unprotected: true}, everywhere, Options{}},
	{"5-logout-then-kill/unprotected-replica-lagging", Scenario{Fault: LogoutThenKill, LagReplica: true, Unprotected: true}, everywhere, Options{}},
}

// The scenarios on a Redis Cluster of 3 masters × 1 replica (2 for
// min-replicas) with cluster-node-timeout 1 s, each on a fresh cluster.
func TestRedisClusterScenarios(t *testing.T) {
	t.Parallel()
	runScenarios(t, redisClusterScenarios, StartRedisCluster)
}
