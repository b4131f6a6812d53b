package shard

import (
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/shardsession/shardsession/failover"
	"github.com/shardsession/shardsession/internal/idleconn"
	"github.com/shardsession/shardsession/replica"
)

// Options configure one shard.
type Options struct {
	// Name identifies the shard on the ring and in errors, logs and metrics.
	// It must be stable: renaming a shard moves its sessions on the ring.
	// Required.
	Name string

	// Addr is the primary's "host:port". Required unless Sentinel is set,
	// in which case it must be empty.
	Addr string

	// Replicas are the replicas' "host:port" addresses. They are connected but
	// not read from until a read policy says so (package replica).
	Replicas []string

	// Replica chooses which node serves reads and how replicas are watched
	// (package replica). Its zero value reads from the primary only.
	Replica replica.Options

	// Client is the template for every connection the library opens to the
	// shard's nodes: the primary's and replicas' pools, the near cache's
	// invalidation stream, Pub/Sub subscriptions and the connections that
	// wait for replicas (pool size, timeouts, TLSConfig, Dialer, OnConnect,
	// Username/Password and the CredentialsProvider* fields, which are
	// asked on each new connection so that a rotated password is picked
	// up). Its Addr is ignored. Nil means go-redis defaults, except
	// ReadTimeout and WriteTimeout of 1s and DialTimeout of 1s: a session
	// store must fail fast rather than hang a web request. Unless set,
	// MaxRetries is 1 and DialerRetries 1 (failFast).
	// ContextTimeoutEnabled is always turned on: a call never outlives its
	// context's deadline. Without a deadline a call is bounded by
	// WorstCase(Client). ConnMaxIdleTime is DefaultConnMaxIdleTime unless
	// set, and held to: a pooled connection that carried nothing that long
	// is closed (go-redis looks at it only when it takes the connection,
	// most recently used first, so those a burst opened would stay open);
	// -1 keeps idle connections.
	Client *redis.Options

	// Sentinel, when set, finds the shard's primary and replicas through
	// Redis Sentinel instead of Addr and Replicas (which must be empty):
	// writes follow the primary the sentinels promote, and every replica
	// the sentinels list (SENTINEL REPLICAS, asked every
	// Replica.CheckInterval while the replicas' checks are awake, see
	// replica.Options.Idle) gets its own client,
	// built from Client, which serves reads only while its health check
	// finds it a replica of the current primary with its link up. See
	// packages failover and replica. Default nil: static addresses.
	Sentinel *failover.Options

	// Breaker configures the circuit breaker put in front of each node's
	// client, so that a dead node costs one timeout rather than one per
	// request. The zero value is the default breaker (3 consecutive
	// failures open it for 250 ms, doubling up to 2 s); Failures < 0 turns
	// it off.
	Breaker failover.BreakerOptions

	// OnDegradedRead, if set, is called after a read that the primary could
	// not serve was served by a replica instead (degraded, read-only mode;
	// the data may lag the primary's). err is the primary's error. It must
	// be fast and safe for concurrent use. Stats counts these reads too.
	OnDegradedRead func(shard string, err error)

	// Observer, if set, is told about every command the shard's clients
	// send (for metrics, traces, logs; see Observer). Default nil.
	Observer Observer

	// NoIdentityCheck turns off, for a shard with static addresses, the
	// question each new connection of the primary's client asks the
	// server (INFO server replication: its run_id, replication ID and
	// role), by which the shard notices that a managed service's endpoint
	// now leads to another primary and reacts as to a Sentinel switch
	// (see OnFailover). Set it only when Addr is a proxy that answers INFO
	// itself, not with its node's: the check then sees one identity
	// forever, or refuses connections for a role the proxy reports. An
	// ACL that refuses INFO, or INFO renamed away, turns the check off by
	// itself (logged once).
	// Ignored with Sentinel. Default false: checked.
	NoIdentityCheck bool
}

// DefaultConnMaxIdleTime is how long a pooled connection of a shard's
// clients may carry nothing before it is closed, unless
// Options.Client.ConnMaxIdleTime says otherwise: long enough that steady
// traffic never redials, short enough that a fleet of web nodes does not
// keep every connection its bursts opened.
const DefaultConnMaxIdleTime = idleconn.DefaultAfter

func (o *Options) init() {
	if o.Client == nil {
		o.Client = &redis.Options{
			DialTimeout:  time.Second,
			ReadTimeout:  time.Second,
			WriteTimeout: time.Second,
		}
	}
	// One retry and one dial attempt, not go-redis's 3 retries × 5 dials:
	// the breaker and Sentinel handle a dead node, retries only delay the
	// error (go-redis #3540).
	tmpl := failFast(*o.Client)
	// go-redis ignores the context's deadline for socket reads and writes
	// unless told otherwise, so a request with 200 ms left would wait out
	// ReadTimeout on a silent node.
	tmpl.ContextTimeoutEnabled = true
	if tmpl.ConnMaxIdleTime == 0 {
		tmpl.ConnMaxIdleTime = DefaultConnMaxIdleTime
	}
	if tmpl.MaintNotificationsConfig == nil {
		// A go-redis Conn (WAIT runs on the connection that wrote) shares
		// its client's options but not their lock, and the fallback of the
		// maintenance-notification handshake writes those options on a
		// connection's first use: a data race between the client and its
		// Conn (seen under -race). Redis 7 sends no such notifications.
		tmpl.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
	o.Client = &tmpl
}

// clientFor returns a copy of the template aimed at addr.
func (o *Options) clientFor(addr string) *redis.Options {
	c := *o.Client
	c.Addr = addr
	return &c
}

// WorstCase returns how long one command sent with a context that has no
// deadline can take on one node of a shard whose Options.Client is client
// (nil: the defaults), when the node accepts connections but never
// answers (a frozen process, a silent partition): every attempt
// (MaxRetries+1 of them) waits for a pooled connection (PoolTimeout),
// dials (DialerRetries × DialTimeout, with DialerRetryTimeout between
// tries), sends the connection's handshake and then the command
// (WriteTimeout + ReadTimeout each), and the attempts are separated by up
// to MaxRetryBackoff. A read that the primary could not serve then tries
// each replica in turn, each with the same bound. It returns 0 when a
// timeout is disabled (negative): nothing but the context bounds the call
// then. With a deadline a call ends by the deadline.
func WorstCase(client *redis.Options) time.Duration {
	o := Options{Client: client}
	o.init()
	c := o.Client
	dial, read, write, pool := c.DialTimeout, c.ReadTimeout, c.WriteTimeout, c.PoolTimeout
	if dial == 0 {
		dial = 5 * time.Second // go-redis's default
	}
	switch {
	case read == 0:
		read = 3 * time.Second
	case read < 0:
		return 0
	}
	switch {
	case write == 0:
		write = read
	case write < 0:
		return 0
	}
	if pool == 0 {
		pool = read + time.Second
	}
	if dial < 0 || pool < 0 {
		return 0
	}
	attempts := max(c.MaxRetries, 0) + 1
	dialRetry := c.DialerRetryTimeout
	if dialRetry == 0 {
		dialRetry = 100 * time.Millisecond
	}
	dials := max(c.DialerRetries, 1)
	perAttempt := pool + time.Duration(dials)*dial + time.Duration(dials-1)*dialRetry + 2*(write+read)
	return time.Duration(attempts)*perAttempt + time.Duration(attempts-1)*c.MaxRetryBackoff
}
