package chaos

import (
	"slices"
	"testing"
)

// What the Redis Cluster rows must show. A master down must not fail the
// requests for other masters' slots, and a write WAIT 1 confirmed
// survives its master (everywhere). Logouts: a DEL that WAIT 1 confirmed
// is on the promoted replica, so with the replica keeping up none comes
// back (noResurrection). With the replica frozen, the DELs it missed are
// journalled on another master and replayed on the promoted replica, so
// none comes back either. Unprotected (no WAIT, no journal) rows are
// reported, not judged: a plain DEL the replica missed does come back.
var redisClusterScenarios = slices.Concat(
	// As on the ring: min-replicas-to-write 1 needs two replicas per
	// master, so that the promoted master still has one.
	byName(scenarios, "1-kill-primary/no-wait", "1-kill-primary/wait-1", "1-kill-primary/wait-1-min-replicas",
		"2-pause-primary", "3-partition-primary"),
	[]scenarioCase{
		{"5-logout-then-kill", Scenario{Fault: LogoutThenKill}, noResurrection, Options{}},
		{"5-logout-then-kill/replica-lagging", Scenario{Fault: LogoutThenKill, LagReplica: true}, noResurrection, Options{}},
		{"5-logout-then-kill/unprotected", Scenario{Fault: LogoutThenKill, Unprotected: true}, everywhere, Options{}},
		{"5-logout-then-kill/unprotected-replica-lagging", Scenario{Fault: LogoutThenKill, LagReplica: true, Unprotected: true}, everywhere, Options{}},
	},
)

// byName returns the cases of those names, in the order named.
func byName(cases []scenarioCase, names ...string) []scenarioCase {
	var out []scenarioCase
	for _, name := range names {
		i := slices.IndexFunc(cases, func(c scenarioCase) bool { return c.name == name })
		if i < 0 {
			panic("chaos: no scenario " + name)
		}
		out = append(out, cases[i])
	}
	return out
}

// The scenarios on a Redis Cluster of 3 masters × 1 replica (2 for
// min-replicas) with cluster-node-timeout 1 s, each on a fresh cluster of
// processes (no partition: that one is skipped).
func TestRedisClusterScenarios(t *testing.T) {
	t.Parallel()
	runScenarios(t, redisClusterScenarios, StartRedisCluster)
}

// The same in containers, as TestDockerScenarios (SHARDSESSION_CHAOS_DOCKER=0
// turns them off): each node announces its container address
// (cluster-announce-ip), so a partition is possible, and a killed master's
// address answers nothing at all rather than refusing connections.
func TestDockerRedisClusterScenarios(t *testing.T) {
	runScenarios(t, redisClusterScenarios, inDocker(t, StartDockerRedisCluster))
}
