package rediscluster

import (
	"fmt"
	"net"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/shardsession/shardsession/internal/idleconn"
	"github.com/shardsession/shardsession/replica"
)

// Options configures New. Only Addrs is required; every other zero value
// is a working default.
type Options struct {
	// Addrs are "host:port" seeds: some nodes of the cluster (masters or
	// replicas); the client learns the rest from CLUSTER SLOTS. Required.
	Addrs []string

	// Client is a template for the go-redis cluster client: every field
	// set here is passed through (Username, Password, CredentialsProvider,
	// CredentialsProviderContext, StreamingCredentialsProvider, TLSConfig,
	// Dialer, PoolSize, timeouts, MaxRedirects, ...), except Addrs, which
	// comes from Options.Addrs. ContextTimeoutEnabled is always turned on,
	// so that a request's deadline bounds its commands; ReadOnly,
	// RouteByLatency and RouteRandomly are always turned off, because
	// ReadPolicy decides which reads replicas serve (a read routed to a
	// replica by go-redis would skip the version checks of reads.go).
	// Default nil: the go-redis defaults, except DialTimeout 1 s and
	// DialerRetries 1 where the template leaves them 0 (go-redis: 5 s and
	// 5 attempts). A master that dies in a way that leaves its address
	// silent (a host gone, a container killed) would otherwise hold every
	// request sent to it, and each reload of the slot table that asks it,
	// for up to 25 s before the client looks elsewhere. ConnMaxIdleTime
	// is DefaultConnMaxIdleTime unless set, and held to: a pooled
	// connection that carried nothing that long is closed (go-redis looks
	// at it only when it takes the connection, most recently used first,
	// so those a burst opened would stay open); -1 keeps idle connections.
	Client *redis.ClusterOptions

	// KeyPrefix is put before every session ID to make its Redis key.
	// Default "shardsession:", as in package cluster.
	KeyPrefix string

	// Durability says how many replicas must confirm writes.
	Durability Durability

	// ReadPolicy says which node serves a Load, with the values and the
	// read-your-writes rules of package cluster's Replica.Policy (see
	// reads.go): PrimaryOnly reads the master of the key's slot;
	// ReplicaPreferred a replica of that slot (go-redis ReadOnly: a random
	// one not marked failing, the master when none is); LowestLatency the
	// node of the slot, master or replica, with the lowest latency go-redis
	// measured (RouteByLatency). A replica's answer older than the caller's
	// LoadOptions.MinVersion is retried on the master. A context set with
	// replica.WithPolicy(ctx, replica.PrimaryOnly) reads the master whatever
	// the policy; a context asking for another replica policy reads with
	// the configured one (go-redis fixes the routing per client), and with
	// PrimaryOnly configured no read goes to a replica (no client for
	// replicas is made). Default PrimaryOnly.
	ReadPolicy replica.Policy

	// MoveRetry bounds how long a command refused with TRYAGAIN, ASK,
	// MOVED or CLUSTERDOWN (its slot is moving, or a master is being
	// elected), or sent to a master since removed from the cluster, is
	// retried when the context has no deadline. Default 5 s: more than
	// go-redis spends on a node that is gone before it gives up (a dial of
	// up to DialTimeout on each of its attempts), so that a request that
	// met a removed master has time left to reach the new one.
	MoveRetry time.Duration
}

// Durability asks for writes confirmed by replicas, with WAIT sent on the
// connection to the key's master that wrote, as in package cluster.
type Durability struct {
	// DeleteReplicas is how many replicas must confirm a Delete (logout,
	// revoke, the old ID of a renewal), so that a failover does not bring
	// the session back. Default 1; negative: do not wait. A delete that
	// fewer replicas confirmed within Timeout is recorded in the revocation
	// journal on another master (see RevocationTTL) and returns nil; if that
	// fails, or the journal is off, it returns an error wrapping
	// store.ErrNotReplicated (the key is gone from the master). On a
	// cluster without replicas set it to -1.
	DeleteReplicas int
	// SaveReplicas is how many replicas must confirm a Save. Default 0:
	// do not wait. A Save that fewer confirmed still returns its version,
	// with an error wrapping store.ErrNotReplicated.
	SaveReplicas int
	// Timeout bounds each WAIT. Default 250 ms.
	Timeout time.Duration
	// RevocationTTL is how long a delete that fewer than DeleteReplicas
	// replicas confirmed is remembered in the revocation journal, on
	// another master (revoke.go): after this process sees the session's
	// master replaced by its replica, sessions journalled within it are
	// deleted again on the new master and refused on load. Such a delete
	// then returns nil. Default 10 minutes; negative: no journal, the
	// delete returns an error wrapping store.ErrNotReplicated.
	RevocationTTL time.Duration
}

// init applies the defaults.
// DefaultConnMaxIdleTime is how long a pooled connection to a node may
// carry nothing before it is closed, unless Options.Client says otherwise
// (as in package shard).
const DefaultConnMaxIdleTime = idleconn.DefaultAfter

func (o *Options) init() {
	if o.KeyPrefix == "" {
		o.KeyPrefix = "shardsession:"
	}
	if o.MoveRetry <= 0 {
		o.MoveRetry = 5 * time.Second
	}
	switch {
	case o.Durability.DeleteReplicas == 0:
		o.Durability.DeleteReplicas = 1
	case o.Durability.DeleteReplicas < 0:
		o.Durability.DeleteReplicas = 0
	}
	if o.Durability.SaveReplicas < 0 {
		o.Durability.SaveReplicas = 0
	}
	if o.Durability.Timeout <= 0 {
		o.Durability.Timeout = 250 * time.Millisecond
	}
	switch {
	case o.Durability.RevocationTTL == 0:
		o.Durability.RevocationTTL = 10 * time.Minute
	case o.Durability.RevocationTTL < 0:
		o.Durability.RevocationTTL = 0
	}
}

// validate checks what init cannot default.
func (o *Options) validate() error {
	if len(o.Addrs) == 0 {
		return fmt.Errorf("%w: no Addrs", ErrBadOptions)
	}
	if o.ReadPolicy < replica.PrimaryOnly || o.ReadPolicy > replica.LowestLatency {
		return fmt.Errorf("%w: unknown read policy %d", ErrBadOptions, o.ReadPolicy)
	}
	for _, a := range o.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("%w: address %q: %w", ErrBadOptions, a, err)
		}
	}
	return nil
}

// clientOptions is the go-redis cluster client's options: the template,
// with Addrs and ContextTimeoutEnabled set.
func (o *Options) clientOptions() *redis.ClusterOptions {
	var co redis.ClusterOptions
	if o.Client != nil {
		co = *o.Client
	}
	co.Addrs = append([]string(nil), o.Addrs...)
	co.ContextTimeoutEnabled = true
	co.ReadOnly, co.RouteByLatency, co.RouteRandomly = false, false, false
	if co.DialTimeout == 0 {
		co.DialTimeout = time.Second
	}
	if co.DialerRetries == 0 {
		co.DialerRetries = 1
	}
	if co.ConnMaxIdleTime == 0 {
		co.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if co.MaintNotificationsConfig == nil {
		// As in package shard: a go-redis Conn (WAIT runs on the
		// connection that wrote) shares its client's options but not their
		// lock, and the fallback of the maintenance-notification handshake
		// writes those options on a connection's first use, a data race
		// (seen under -race). Redis Cluster 7 sends no such notifications.
		co.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	return &co
}

// readerOptions is the options of the client that reads from replicas
// (reads.go): clientOptions with go-redis's read routing for ReadPolicy.
func (o *Options) readerOptions() *redis.ClusterOptions {
	co := o.clientOptions()
	co.ReadOnly = true
	co.RouteByLatency = o.ReadPolicy == replica.LowestLatency
	return co
}
