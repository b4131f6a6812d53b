package rediscluster

import (
	"testing"

	"github.com/shardsession/shardsession/internal/redistest"
)

// For the tests of package rediscluster_test: the shared cluster, and the
// helpers that wait on a Cluster's internals.
var (
	WaitReplicaReads = waitReplicaReads
	IDsOnEveryMaster = idsOnEveryMaster
)

// Shared returns the Redis Cluster the tests that kill no node share.
func Shared(testing.TB) *redistest.RedisCluster { return shared }
