package rediscluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/internal/idleconn"
	"github.com/shardsession/shardsession/replica"
	"github.com/shardsession/shardsession/shard"
	"github.com/shardsession/shardsession/store"
)

// Cluster is a session store on a Redis Cluster. Create it with New; it
// is safe for concurrent use.
type Cluster struct {
	client     *redis.ClusterClient
	reaper     *idleconn.Reaper // closes pooled connections idle for ConnMaxIdleTime; nil when kept
	batch      *batch
	prefix     string
	durability Durability
	moveRetry  time.Duration
	moves      moveCounters
	readPolicy replica.Policy
	reader     *reader // nil with ReadPolicy PrimaryOnly (reads.go)
	reads      replica.ReadCounters
	revocation revocation
}

// The capabilities a Cluster offers, checked at compile time.
var (
	_ store.Store          = (*Cluster)(nil)
	_ store.Iterable       = (*Cluster)(nil)
	_ store.PrefixIterable = (*Cluster)(nil)
	_ store.UserIndex      = (*Cluster)(nil)
	_ store.Locker         = (*Cluster)(nil)
	_ store.EventPublisher = (*Cluster)(nil)
	_ store.Locator        = (*Cluster)(nil)
)

// New returns a Cluster over the Redis Cluster that Options.Addrs lead
// to. It validates opt (errors wrap ErrBadOptions) but does not contact
// the cluster: the client connects on first use.
func New(opt Options) (*Cluster, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	opt.init()
	co := opt.clientOptions()
	client := redis.NewClusterClient(co)
	c := &Cluster{
		reaper:     idleconn.New(co.ConnMaxIdleTime),
		client:     client,
		batch:      newBatch(client),
		prefix:     opt.KeyPrefix,
		durability: opt.Durability,
		moveRetry:  opt.MoveRetry,
		readPolicy: opt.ReadPolicy,
	}
	c.revocation.ctx, c.revocation.cancel = context.WithCancel(context.Background())
	client.OnNewNode(c.reaper.Watch)
	if opt.ReadPolicy != replica.PrimaryOnly {
		c.reader = &reader{client: redis.NewClusterClient(opt.readerOptions())}
		c.reader.client.OnNewNode(c.reaper.Watch)
	}
	return c, nil
}

// Client returns the go-redis cluster client, for commands of the
// application's own.
func (c *Cluster) Client() *redis.ClusterClient { return c.client }

// Close closes the clients' connections.
func (c *Cluster) Close() error {
	c.revocation.cancel()
	defer c.reaper.Close()
	if c.reader != nil {
		return errors.Join(c.client.Close(), c.reader.client.Close())
	}
	return c.client.Close()
}

// Locate returns the address of the master that owns session id's slot,
// as the client's slot table says, or "" if the client cannot tell.
func (c *Cluster) Locate(id string) string {
	m, err := c.client.MasterForKey(context.Background(), c.Key(id))
	if err != nil {
		return ""
	}
	return m.Options().Addr
}

// wrap classifies err, the failure of a command about key (or "") on node
// (the master's address, or "" when the client routed it): shard.IsUnavailable's
// list, plus the redirections go-redis gave up following, become
// store.ErrUnavailable.
func wrap(node, key string, err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		return err
	}
	if isRedirect(err) && !shard.IsUnavailable(err) {
		err = fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return shard.Wrap(where(node, key), err)
}

// where names, for an error, the node a command about key ran on: its
// address when known, else the key's slot.
func where(node, key string) string {
	switch {
	case node != "":
		return node
	case key != "":
		return "slot of " + key
	}
	return "cluster"
}

// isRedirect reports a MOVED or ASK reply, which go-redis returns when it
// has followed Client.MaxRedirects of them: the slot is in motion.
func isRedirect(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return strings.HasPrefix(msg, "MOVED ") || strings.HasPrefix(msg, "ASK ")
}

// isMoving reports a reply that a retry may cure: the slot is being
// migrated (ASK, TRYAGAIN for a multi-key command during a move, MOVED
// before the slot table is refreshed) or the cluster is electing a new
// master (CLUSTERDOWN).
func isMoving(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	return isRedirect(err) || strings.HasPrefix(msg, "TRYAGAIN") || strings.HasPrefix(msg, "CLUSTERDOWN")
}

// retry is retryKey for an operation with no single key: a network
// failure is not retried.
func (c *Cluster) retry(ctx context.Context, op func(ctx context.Context) error) error {
	return c.retryKey(ctx, "", op)
}

// retryKey runs op until it returns nil or an error that is not a slot
// move (isMoving), or until ctx's deadline (Options.MoveRetry when ctx has
// none). Between attempts it asks the client to reload its slot table and
// waits, 10 ms doubling up to 200 ms. When op is about key and fails on
// the network, it is retried too if the other masters route key's slot
// away from the master the client sent it to (gone.go): that master was
// removed, or replaced. op must be safe to repeat: every write of this
// package is (the save script recognises its own write ID).
func (c *Cluster) retryKey(ctx context.Context, key string, op func(ctx context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.moveRetry)
		defer cancel()
	}
	wait := 10 * time.Millisecond
	for attempt := ctx; ; attempt = context.WithValue(ctx, retryingKey{}, true) {
		sentTo := c.masterOf(ctx, key)
		c.observe(sentTo) // a failover this process has not seen yet (topology.go)
		err := op(attempt)
		if err == nil {
			return nil
		}
		moving := isMoving(err)
		if !moving && shard.IsUnavailable(err) {
			// The node did not answer: it may be a master that has died,
			// whose replica the cluster is promoting. The client would
			// keep its slot table until its periodic reload; ask for one
			// now (go-redis runs one at a time, 200 ms apart), so that
			// requests reach the new master as soon as the cluster has
			// one. This request fails fast, as on a shard of package
			// cluster, unless the slot has already left that node.
			c.client.ReloadState(ctx)
			if sentTo != "" && ctx.Err() == nil && c.slotLeft(ctx, key, sentTo) {
				c.moves.gone.Add(1)
				moving = true
			}
		} else if moving {
			c.moves.add(err)
		}
		if !moving {
			return err
		}
		c.client.ReloadState(ctx)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}
