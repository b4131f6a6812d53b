package rediscluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// A master removed from the cluster. When an operator empties a master
// (redis-cli --cluster rebalance --cluster-weight <id>=0, or reshard) and
// then removes it (del-node) and stops it, a client whose slot table
// still names it for a slot it has not touched since the move gets no
// MOVED: its request fails on the network (connection refused, EOF from
// the shutdown, or CLUSTERDOWN from the reset node, which go-redis gives
// up on). That is not a master down: the slot has another master, which
// serves. So on a network failure retry asks the other masters where the
// key's slot is; if they route it away from the node that failed, the
// request is retried like a MOVED one (counted in MoveStats.Gone), with a
// fresh slot table. If they still route it to the failed node, that
// master is down and the request fails at once: nothing waits for a
// failover. The same check lets a request whose table still names
// a master that has died, after its replica was promoted, reach the new
// master rather than fail.

// slotCheckTimeout bounds the question to the other masters: a reload of
// the slot table and one EXISTS on each, concurrently, which take a few
// milliseconds, but some hundreds on a loaded machine (a check that times
// out leaves the request failed).
const slotCheckTimeout = time.Second

// masterOf returns the address of the master that the client's slot table
// names for key, or "" if it cannot tell. It reads the table the client
// holds; it does not ask the cluster.
func (c *Cluster) masterOf(ctx context.Context, key string) string {
	if key == "" {
		return ""
	}
	m, err := c.client.MasterForKey(ctx, key)
	if err != nil {
		return ""
	}
	return m.Options().Addr
}

// slotLeft reports whether a master of the client's table other than addr
// says key's slot is served elsewhere than addr: it answers about the key
// itself (it owns the slot, or migrates it: ASK) or redirects with MOVED
// to another node. Masters that do not answer are not counted.
func (c *Cluster) slotLeft(ctx context.Context, key, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, slotCheckTimeout)
	defer cancel()
	var left atomic.Bool
	_ = c.client.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if n.Options().Addr == addr {
			return nil
		}
		err := n.Exists(ctx, key).Err()
		var re redis.Error
		switch {
		case err == nil:
			left.Store(true)
		case errors.As(err, &re) && strings.HasPrefix(re.Error(), "ASK "):
			left.Store(true)
		case errors.As(err, &re) && strings.HasPrefix(re.Error(), "MOVED "):
			// MOVED <slot> <host:port>
			if f := strings.Fields(re.Error()); len(f) == 3 && f[2] != addr {
				left.Store(true)
			}
		}
		return nil
	})
	return left.Load()
}
