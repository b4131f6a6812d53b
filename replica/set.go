package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Set is a primary and its replicas, with the replicas' health kept up to
// date by a background goroutine while something wants it (Options.Idle).
// It is safe for concurrent use; Pick takes no lock and allocates nothing.
// A Set does not own the clients: Close stops the checks, the caller
// closes the clients.
type Set struct {
	opt      Options
	discover Discover // nil: the replicas given to New
	primary  *redis.Client
	nodes    atomic.Pointer[[]*node] // an immutable snapshot; Discover replaces it
	current  atomic.Pointer[string]  // the current primary's address; nil when not known
	primLat  atomic.Int64            // primary's health-check latency, EWMA, ns
	next     atomic.Uint64
	lag      lagTracker // used by the check goroutine only
	stop     context.CancelFunc
	done     sync.WaitGroup
	kick     chan struct{} // a check round is wanted now (Recheck)
	rekick   chan struct{} // a look for the nodes is wanted now (Rediscover)

	// checked is closed after the first complete round since the Set
	// started or last woke; the check goroutine replaces it when it
	// sleeps.
	checked atomic.Pointer[chan struct{}]
	wanted  atomic.Int64  // unix ns of the last call that wanted the replicas (want)
	asleep  atomic.Bool   // the check goroutine waits for want
	wake    chan struct{} // want's signal to a sleeping check goroutine

	discoverMu sync.Mutex // one rediscover at a time (check and discover goroutines)
}

// node is one replica and what the last check found.
type node struct {
	client  *redis.Client
	addr    string
	healthy atomic.Bool
	master  atomic.Pointer[string] // the primary it followed at the last check; nil if none
	latency atomic.Int64           // EWMA of health-check latency, ns
	status  atomic.Pointer[Status]
}

// Status is what the last health check (or MarkDown) found about a replica.
type Status struct {
	// Addr is the replica's "host:port".
	Addr string
	// Healthy replicas serve reads.
	Healthy bool
	// Reason says why a replica is not healthy: "unchecked" (no check has
	// finished since the Set started or woke), "down: <error>", "not a replica", "replica of
	// <address>, not of the primary <address>", "link down" or "lagging".
	// "" when healthy.
	Reason string
	// Lag is a lower bound of how far the replica is behind the primary:
	// the age of the oldest primary offset (of the earlier checks) it has
	// not applied, with CheckInterval resolution. 0 when it has caught up
	// or no offset of the primary is known yet (the Set just started or
	// woke, or the primary did not answer).
	Lag time.Duration
	// Latency is the moving average of the replica's health-check round trip.
	Latency time.Duration
	// Checked is when the status was set.
	Checked time.Time
}

// Discover finds a shard's current primary ("host:port") and the replicas
// to watch, for a shard whose nodes change (package shard's, for a shard
// found through Sentinel, asks SENTINEL REPLICAS). It is called from the
// Set's check goroutine only. The Set does not own the clients.
type Discover func(ctx context.Context) (primary string, replicas []*redis.Client, err error)

// New returns a Set over primary and replicas and, when there are replicas,
// starts checking them. Until the first check of a replica finishes it is
// not read from. New validates opt and returns an error wrapping
// ErrBadOptions.
func New(primary *redis.Client, replicas []*redis.Client, opt Options) (*Set, error) {
	return newSet(primary, replicas, nil, opt)
}

// NewDiscovering returns a Set over primary whose replicas discover finds:
// it is called before the first check round after the Set starts or
// wakes, and then every CheckInterval while it is awake (at most
// CheckTimeout long), apart from the checks, and its replicas replace those
// watched before (clients already watched keep their status; new ones are
// unchecked until their first check). A replica then serves reads only while its last check found it a
// replica of the primary discover named (role slave, master_host and
// master_port equal to it, link up), and stops at once when SetPrimary
// names another. When discover fails the Set keeps what it knew.
func NewDiscovering(primary *redis.Client, discover Discover, opt Options) (*Set, error) {
	return newSet(primary, nil, discover, opt)
}

func newSet(primary *redis.Client, replicas []*redis.Client, discover Discover, opt Options) (*Set, error) {
	opt.init()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	s := &Set{opt: opt, discover: discover, primary: primary, kick: make(chan struct{}, 1), rekick: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	checked := make(chan struct{})
	s.checked.Store(&checked)
	s.replace(replicas)
	if len(replicas) == 0 && discover == nil {
		close(checked)
		return s, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(1)
	go s.run(ctx)
	return s, nil
}

// want records that something wants the replicas checked now, and wakes
// the check goroutine if it sleeps.
func (s *Set) want() {
	s.wanted.Store(time.Now().UnixNano())
	if s.asleep.CompareAndSwap(true, false) {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// InUse reports whether the replicas are in use, and so checked: always
// under a policy that reads from them, else for Idle after the last want
// (a read under WithPolicy, a fallback, a look at their health). While
// they are not, nothing here needs a replica, and the shard need not
// watch its primary for them either.
func (s *Set) InUse() bool {
	return s.opt.Policy != PrimaryOnly || time.Since(time.Unix(0, s.wanted.Load())) < s.opt.Idle
}

// list returns the replicas being watched.
func (s *Set) list() []*node {
	if p := s.nodes.Load(); p != nil {
		return *p
	}
	return nil
}

// replace makes replicas the watched set, in that order, keeping what is
// known of the clients already watched; new ones are unchecked.
func (s *Set) replace(replicas []*redis.Client) {
	old := map[*redis.Client]*node{}
	for _, nd := range s.list() {
		old[nd.client] = nd
	}
	nodes := make([]*node, 0, len(replicas))
	for _, c := range replicas {
		n := old[c]
		if n == nil {
			n = &node{client: c, addr: c.Options().Addr}
			n.status.Store(&Status{Addr: n.addr, Reason: "unchecked"})
		}
		nodes = append(nodes, n)
	}
	s.nodes.Store(&nodes)
}

// SetPrimary records addr ("host:port") as the shard's current primary, as
// Sentinel names it after a failover: from then on a replica serves reads
// only once a check finds it a replica of addr. A replica last seen
// following another node stops serving at once. Discover calls it too.
func (s *Set) SetPrimary(addr string) {
	if addr == "" {
		return
	}
	if p := s.current.Load(); p == nil || *p != addr {
		s.current.Store(&addr)
	}
}

// Primary returns the current primary's address as SetPrimary (or
// Discover) last named it, "" when it is not known (static addresses).
func (s *Set) Primary() string {
	if p := s.current.Load(); p != nil {
		return *p
	}
	return ""
}

// Recheck asks for a check round now rather than at the next
// CheckInterval, waking a Set that sleeps.
func (s *Set) Recheck() {
	s.want()
	s.recheck()
}

// recheck asks the check goroutine for a round now.
func (s *Set) recheck() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Rediscover asks a Set made by NewDiscovering to look for the primary and
// replicas now rather than at the next CheckInterval (a check round follows
// if they changed). It does nothing for a Set made by New, nor for one that
// sleeps: a Set looks for its nodes again when it wakes.
func (s *Set) Rediscover() {
	select {
	case s.rekick <- struct{}{}:
	default:
	}
}

// follows reports whether nd's last check found it a replica of the current
// primary: always when the current primary's address is not known (static
// addresses), never when the check found it no replica.
func (s *Set) follows(nd *node) bool {
	p := s.current.Load()
	if p == nil {
		return true
	}
	m := nd.master.Load()
	return m != nil && *m == *p
}

// serves reports whether nd may serve a read now.
func (s *Set) serves(nd *node) bool { return nd.healthy.Load() && s.follows(nd) }

// Policy returns the policy that applies to a read under ctx: the one set
// by WithPolicy, else the Set's.
func (s *Set) Policy(ctx context.Context) Policy {
	if p, ok := PolicyFrom(ctx); ok {
		return p
	}
	return s.opt.Policy
}

// Pick returns the client that should serve a read under ctx's policy, and
// whether it is a replica. It returns the primary when the policy says so
// or no replica is healthy (as none is while a sleeping Set, woken by this
// call, checks them).
func (s *Set) Pick(ctx context.Context) (c *redis.Client, replica bool) {
	p := s.Policy(ctx)
	if p != PrimaryOnly && s.opt.Policy == PrimaryOnly {
		s.want()
	}
	switch p {
	case ReplicaPreferred:
		nodes := s.list()
		n := uint64(len(nodes))
		if n == 0 {
			break
		}
		start := s.next.Add(1)
		for i := range n {
			if nd := nodes[(start+i)%n]; s.serves(nd) {
				return nd.client, true
			}
		}
	case LowestLatency:
		best, bestLat := (*node)(nil), s.primLat.Load()
		for _, nd := range s.list() {
			if lat := nd.latency.Load(); s.serves(nd) && (bestLat == 0 || lat < bestLat) {
				best, bestLat = nd, lat
			}
		}
		if best != nil {
			return best.client, true
		}
	}
	return s.primary, false
}

// MarkDown takes the replica served by c out of rotation at once, after a
// read from it failed; the next successful check brings it back. It does
// nothing for a client that is not one of the Set's replicas.
func (s *Set) MarkDown(c *redis.Client, err error) {
	for _, nd := range s.list() {
		if nd.client == c {
			nd.healthy.Store(false)
			nd.status.Store(&Status{Addr: nd.addr, Reason: "down: " + err.Error(), Latency: time.Duration(nd.latency.Load()), Checked: time.Now()})
		}
	}
}

// Status returns the replicas' current status, in configuration order (or
// in the order Discover returned them). A Set that sleeps reports them
// "unchecked", and wakes.
func (s *Set) Status() []Status {
	s.want()
	nodes := s.list()
	out := make([]Status, len(nodes))
	for i, nd := range nodes {
		out[i] = *nd.status.Load()
		if out[i].Healthy && !s.follows(nd) {
			out[i].Healthy, out[i].Reason = false, s.notFollowing(nd)
		}
	}
	return out
}

// notFollowing is the Reason of a replica that does not follow the current
// primary.
func (s *Set) notFollowing(nd *node) string {
	m, p := "", ""
	if v := nd.master.Load(); v != nil {
		m = *v
	}
	if v := s.current.Load(); v != nil {
		p = *v
	}
	if m == "" {
		return "not a replica"
	}
	return "replica of " + m + ", not of the primary " + p
}

// Healthy returns how many replicas currently serve reads (none while a
// Set sleeps; it wakes).
func (s *Set) Healthy() int {
	s.want()
	n := 0
	for _, nd := range s.list() {
		if s.serves(nd) {
			n++
		}
	}
	return n
}

// Fallback returns the replicas that may answer a read while the primary
// cannot (degraded, read-only mode), in order: those whose last check found
// them replicas of the current primary, whatever their link or lag; every
// replica when the current primary's address is not known (static
// addresses). A Set that sleeps is woken and the replicas checked first:
// Fallback then waits for that round's replica checks (at most about
// 2 × CheckTimeout) or for ctx.
func (s *Set) Fallback(ctx context.Context) []*redis.Client {
	s.want()
	select {
	case <-s.Checked():
	case <-ctx.Done():
		return nil
	}
	var out []*redis.Client
	for _, nd := range s.list() {
		if s.follows(nd) {
			out = append(out, nd.client)
		}
	}
	return out
}

// Replicas returns the clients of the replicas being watched.
func (s *Set) Replicas() []*redis.Client {
	nodes := s.list()
	out := make([]*redis.Client, len(nodes))
	for i, nd := range nodes {
		out[i] = nd.client
	}
	return out
}

// Checked returns a channel closed once every replica has been checked
// since the Set started or last woke, and wakes a Set that sleeps.
func (s *Set) Checked() <-chan struct{} {
	s.want()
	return *s.checked.Load()
}

// Close stops the health checks and waits for them to end. It does not
// close the clients. It is idempotent.
func (s *Set) Close() {
	if s.stop != nil {
		s.stop()
		s.done.Wait()
	}
}
