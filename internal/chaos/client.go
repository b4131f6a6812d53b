package chaos

import (
	"github.com/shardsession/shardsession/store"
)

// Client is what the load, the probe and the verification use of a store:
// the session operations and where a session lives. *cluster.Cluster and
// the Redis Cluster client of StartRedisCluster are Clients, so that the
// same clients and the same judging run on both backends.
type Client interface {
	store.Store
	// Locate names the shard of session id, as Env.Shards names them.
	Locate(id string) string
	Close() error
}

// ClientOptions are the durability settings of a Client, with the
// semantics shared by cluster.Durability and rediscluster.Durability.
type ClientOptions struct {
	// SaveReplicas is WAIT's count after each save (0: no WAIT).
	SaveReplicas int
	// DeleteReplicas is WAIT's count after each delete: 0 the backend's
	// default protection, -1 a plain DEL.
	DeleteReplicas int
}
