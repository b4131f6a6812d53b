package rediscluster

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The write-durability path. With no replicas to wait for, a write goes
// through the cluster client, which follows redirections. Otherwise WAIT
// must run on the very connection that wrote — go-redis would send a
// keyless WAIT to a random node — so write takes the master of the key's
// slot from the client's slot table (MasterForKey), holds one connection
// to it (Conn) for the write and the WAIT, and retries through retryKey when
// the slot turned out to have moved.

// write runs op for key and returns the address of the master that ran it
// (when known) and how many replicas confirmed (n when there was nothing
// to wait for).
func (c *Cluster) write(ctx context.Context, key string, n int, op func(context.Context, redis.Cmdable) error) (node string, acked int64, err error) {
	if n <= 0 {
		err = c.retryKey(ctx, key, func(ctx context.Context) error {
			r, done := c.batch.via(ctx, key)
			defer done()
			return op(ctx, r)
		})
		return "", 0, err
	}
	err = c.retryKey(ctx, key, func(ctx context.Context) error {
		master, err := c.client.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		node = master.Options().Addr
		conn := master.Conn()
		defer conn.Close()
		if err := op(ctx, conn); err != nil {
			return err
		}
		acked, err = conn.Wait(ctx, n, c.durability.Timeout).Result()
		if err != nil {
			// The write itself is on the master; WAIT failing means the
			// master went away meanwhile, which is the case WAIT is for.
			acked = 0
		}
		return nil
	})
	return node, acked, err
}
