package rediscluster

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/store"
)

// Reads from replicas (Options.ReadPolicy). The masters-only client serves
// every command; a second cluster client, in go-redis ReadOnly mode (READONLY
// on its connections, RouteByLatency for LowestLatency), only picks the
// node of a key's slot that a read goes to (SlaveForKey), and the read runs
// on that node's own client. Not through the ClusterClient's routing:
// Load must know which node answered, to trust a replica's answer only
// when it is at least the caller's version (store.AtLeast) and to fill
// ReadInfo, and go-redis would silently move a read to another node. The
// reader client takes no part in writes, Exists, iteration or the user
// index, which stay on masters.
//
// The rules are package cluster's: a replica answer older than
// LoadOptions.MinVersion, at MinVersion with another write ID than
// MinWrite, or missing while MinVersion > 0, is not trusted and the master
// answers (ReadInfo.Retried); so does a replica that fails, which is then
// skipped for replicaDownFor. Only the master's failure is an error: while
// a master is down and its slot not yet failed over, a read the replica
// could not serve fails with store.ErrUnavailable, never "no session".
// There is no degraded mode that reads a replica when the master is down:
// go-redis's table still names the dead master until the promotion, and a
// replica of a dead master is exactly the node that may lack a delete the
// revocation journal (revoke.go) only replays once it is promoted.

// replicaDownFor is how long a replica whose read failed is not asked
// again: a paused or dead replica must not cost every read a timeout.
const replicaDownFor = 5 * time.Second

// reader routes reads to replicas.
type reader struct {
	client *redis.ClusterClient
	down   sync.Map // replica address → time.Time until which it is skipped
}

// pick returns the client of the node of key's slot that the policy picks,
// its address, and whether it is a replica. A replica marked down is not
// picked (nil).
func (r *reader) pick(ctx context.Context, key string) (*redis.Client, string, bool) {
	n, err := r.client.SlaveForKey(ctx, key)
	if err != nil {
		return nil, "", false
	}
	m, err := r.client.MasterForKey(ctx, key)
	if err != nil {
		return nil, "", false
	}
	addr := n.Options().Addr
	isReplica := addr != m.Options().Addr
	if until, ok := r.down.Load(addr); ok && isReplica && time.Now().Before(until.(time.Time)) {
		return nil, "", false
	}
	return n, addr, isReplica
}

// markDown skips the replica addr for replicaDownFor.
func (r *reader) markDown(addr string) { r.down.Store(addr, time.Now().Add(replicaDownFor)) }

// policy returns the read policy of a request: the context's
// (replica.WithPolicy), else the configured one.
func (c *Cluster) policy(ctx context.Context) replica.Policy {
	if p, ok := replica.PolicyFrom(ctx); ok {
		return p
	}
	return c.readPolicy
}

// Load returns the fields of the session id, from the node the read policy
// picks (reads.go says when a replica's answer is trusted). A missing
// record is found == false with a nil error. opt.Info, if set, gets the
// master's address as Shard and the answering node's as Node.
func (c *Cluster) Load(ctx context.Context, id string, opt store.LoadOptions) (fields map[string]string, found bool, err error) {
	key := c.Key(id)
	if opt.MinVersion < 0 {
		opt.Primary, opt.MinVersion = true, 0
	}
	retried := false
	if c.reader != nil && !opt.Primary && c.policy(ctx) != replica.PrimaryOnly {
		if rc, node, isReplica := c.reader.pick(ctx, key); rc != nil {
			fields, err := rc.HGetAll(ctx, key).Result()
			switch {
			case err != nil && ctx.Err() != nil:
				return nil, false, wrap(node, key, err)
			case err != nil && isReplica:
				c.reader.markDown(node)
				c.reads.ReplicaErrors.Add(1)
			case err != nil:
				// The master itself, picked for its latency: the master
				// path below retries it as any master read.
			case !isReplica:
				c.reads.PrimaryReads.Add(1)
				return c.loaded(ctx, id, fields, opt, store.ReadInfo{Shard: node, Node: node})
			case !store.AtLeast(fields, opt.MinVersion, opt.MinWrite):
				// Older than the caller's own last write, missing although
				// the caller saw it (the replica is behind), or the same
				// version on another branch of history.
				c.reads.StaleRetries.Add(1)
			default:
				c.reads.ReplicaReads.Add(1)
				return c.loaded(ctx, id, fields, opt, store.ReadInfo{Shard: c.masterOf(ctx, key), Node: node, Replica: true})
			}
			retried = isReplica
		}
	}
	err = c.retryKey(ctx, key, func(ctx context.Context) (err error) {
		r, done := c.batch.via(ctx, key)
		defer done()
		fields, err = r.HGetAll(ctx, key).Result()
		return err
	})
	if err != nil {
		return nil, false, wrap("", key, err)
	}
	c.reads.PrimaryReads.Add(1)
	if len(fields) > 0 && !store.AtLeast(fields, opt.MinVersion, opt.MinWrite) {
		// The master is older than a write it acknowledged: the write was
		// lost in a failover, or the caller saw a deposed master's.
		c.reads.VersionRegressions.Add(1)
	}
	addr := c.masterOf(ctx, key)
	return c.loaded(ctx, id, fields, opt, store.ReadInfo{Shard: addr, Node: addr, Retried: retried})
}

// loaded finishes a Load: a session deleted before a failover that the
// revocation journal remembers is not found (revoke.go); opt.Info is
// filled in.
func (c *Cluster) loaded(ctx context.Context, id string, fields map[string]string, opt store.LoadOptions, info store.ReadInfo) (map[string]string, bool, error) {
	if len(fields) > 0 {
		c.observe(info.Shard)
		if c.revoked(ctx, id, info.Shard) {
			fields = nil
		}
	}
	if opt.Info != nil {
		*opt.Info = info
	}
	return fields, len(fields) > 0, nil
}

// ReadStats are counters of a Cluster's Loads since New (replica.ReadStats).
type ReadStats = replica.ReadStats

// ReadStats returns the Cluster's read counters.
func (c *Cluster) ReadStats() ReadStats { return c.reads.Stats() }
