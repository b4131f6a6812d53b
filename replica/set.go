package replica

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Set is a primary and its replicas, with the replicas' health kept up to
// date by a background goroutine. It is safe for concurrent use; Pick takes
// no lock and allocates nothing. A Set does not own the clients: Close stops
// the checks, the caller closes the clients.
type Set struct {
	opt      Options
	primary  *redis.Client
	nodes    []*node
	primLat  atomic.Int64 // primary's health-check latency, EWMA, ns
	next     atomic.Uint64
	lag      lagTracker // used by the check goroutine only
	stop     context.CancelFunc
	done     sync.WaitGroup
	checked  chan struct{} // closed after the first complete check
	firstRun sync.Once
}

// node is one replica and what the last check found.
type node struct {
	client  *redis.Client
	addr    string
	healthy atomic.Bool
	latency atomic.Int64 // EWMA of health-check latency, ns
	status  atomic.Pointer[Status]
}

// Status is what the last health check (or MarkDown) found about a replica.
type Status struct {
	// Addr is the replica's "host:port".
	Addr string
	// Healthy replicas serve reads.
	Healthy bool
	// Reason says why a replica is not healthy: "unchecked" (no check has
	// finished yet), "down: <error>", "not a replica", "link down" or
	// "lagging". "" when healthy.
	Reason string
	// Lag is a lower bound of how far the replica is behind the primary:
	// the age of the oldest primary offset it has not applied, with
	// CheckInterval resolution. 0 when it has caught up or when the
	// primary could not be asked.
	Lag time.Duration
	// Latency is the moving average of the replica's health-check round trip.
	Latency time.Duration
	// Checked is when the status was set.
	Checked time.Time
}

// New returns a Set over primary and replicas and, when there are replicas,
// starts checking them. Until the first check of a replica finishes it is
// not read from. New validates opt and returns an error wrapping
// ErrBadOptions.
func New(primary *redis.Client, replicas []*redis.Client, opt Options) (*Set, error) {
	opt.init()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	s := &Set{opt: opt, primary: primary, checked: make(chan struct{})}
	for _, c := range replicas {
		n := &node{client: c, addr: c.Options().Addr}
		n.status.Store(&Status{Addr: n.addr, Reason: "unchecked"})
		s.nodes = append(s.nodes, n)
	}
	if len(s.nodes) == 0 {
		close(s.checked)
		return s, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	s.done.Add(1)
	go s.run(ctx)
	return s, nil
}

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
// or no replica is healthy.
func (s *Set) Pick(ctx context.Context) (c *redis.Client, replica bool) {
	switch s.Policy(ctx) {
	case ReplicaPreferred:
		n := uint64(len(s.nodes))
		if n == 0 {
			break
		}
		start := s.next.Add(1)
		for i := range n {
			if nd := s.nodes[(start+i)%n]; nd.healthy.Load() {
				return nd.client, true
			}
		}
	case LowestLatency:
		best, bestLat := (*node)(nil), s.primLat.Load()
		for _, nd := range s.nodes {
			if lat := nd.latency.Load(); nd.healthy.Load() && (bestLat == 0 || lat < bestLat) {
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
	for _, nd := range s.nodes {
		if nd.client == c {
			nd.healthy.Store(false)
			nd.status.Store(&Status{Addr: nd.addr, Reason: "down: " + err.Error(), Latency: time.Duration(nd.latency.Load()), Checked: time.Now()})
		}
	}
}

// Status returns the replicas' current status, in configuration order.
func (s *Set) Status() []Status {
	out := make([]Status, len(s.nodes))
	for i, nd := range s.nodes {
		out[i] = *nd.status.Load()
	}
	return out
}

// Healthy returns how many replicas currently serve reads.
func (s *Set) Healthy() int {
	n := 0
	for _, nd := range s.nodes {
		if nd.healthy.Load() {
			n++
		}
	}
	return n
}

// Checked returns a channel closed once every replica has been checked at
// least once.
func (s *Set) Checked() <-chan struct{} { return s.checked }

// Close stops the health checks and waits for them to end. It does not
// close the clients. It is idempotent.
func (s *Set) Close() {
	if s.stop != nil {
		s.stop()
		s.done.Wait()
	}
}
