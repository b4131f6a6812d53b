package rediscluster

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// How a Cluster notices that a replica was promoted, for the revocation
// journal (revoke.go), without background traffic: it keeps the role of
// every node as the last CLUSTER NODES it read said, and looks up the
// master each request is routed to (observe, from retryKey and Load). A
// known master costs a map lookup. A node it knew as a replica is a
// failover: recorded, replayed, and the roles read again. A node it does
// not know (a master added, a replica it never saw) makes it read the roles
// again, at most once per topologyRefresh. So an idle Cluster sends
// nothing, and a busy one one CLUSTER NODES per topology change.

// slotCount is the number of hash slots of a Redis Cluster.
const slotCount = 16384

// topologyRefresh is the least time between two reads of the roles.
const topologyRefresh = time.Second

// promotedAgain is how long after a failover a request to the promoted
// node is taken for the same failover while the roles still call it a
// replica: the nodes' gossip takes a moment to agree.
const promotedAgain = 10 * time.Second

// topology is the roles of the nodes as one CLUSTER NODES reply said.
type topology struct {
	masters, replicas map[string]bool
}

// revocation is a Cluster's view of failovers, and its counters.
type revocation struct {
	// ctx ends at Close: the replays and reads of the roles it started in
	// the background stop with it.
	ctx    context.Context
	cancel context.CancelFunc

	topo       atomic.Pointer[topology]
	refreshing atomic.Bool
	lastRead   atomic.Int64 // unix nanos of the last read of the roles

	mu       sync.Mutex
	promoted map[string]time.Time // node → when this process saw it promoted

	unconfirmed, journalled, replayed, revokedOnLoad, failovers atomic.Int64
}

// observe notes that a request is routed to master addr (the address the
// client's slot table names). See the comment at the top of the file.
func (c *Cluster) observe(addr string) {
	r := &c.revocation
	if addr == "" || c.durability.RevocationTTL <= 0 {
		return
	}
	t := r.topo.Load()
	switch {
	case t == nil:
		c.readRoles()
	case t.masters[addr]:
	case t.replicas[addr]:
		// Seen already, and the roles not read again yet (or read from a
		// node whose gossip still calls it a replica): the same failover.
		r.mu.Lock()
		seen, again := r.promoted[addr]
		again = again && time.Since(seen) < promotedAgain
		if !again {
			if r.promoted == nil {
				r.promoted = map[string]time.Time{}
			}
			r.promoted[addr] = time.Now()
			r.failovers.Add(1)
		}
		r.mu.Unlock()
		if !again {
			go c.replay(addr)
		}
		c.readRoles()
	default:
		c.readRoles()
	}
}

// promotedWithin reports whether this process saw addr promoted within d.
func (r *revocation) promotedWithin(addr string, d time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.promoted[addr]
	return ok && time.Since(at) <= d
}

// readRoles reads the roles of the nodes (CLUSTER NODES) in the
// background, unless a read is under way or one was done less than
// topologyRefresh ago.
func (c *Cluster) readRoles() {
	r := &c.revocation
	if time.Since(time.Unix(0, r.lastRead.Load())) < topologyRefresh || !r.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer r.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(r.ctx, slotCheckTimeout)
		defer cancel()
		nodes, err := c.client.ClusterNodes(ctx).Result()
		r.lastRead.Store(time.Now().UnixNano())
		if err != nil {
			return
		}
		t := parseNodes(nodes)
		r.topo.Store(t)
	}()
}

// parseNodes reads the roles from a CLUSTER NODES reply: a line per node,
// "<id> <ip:port@cport[,hostname]> <flags> ...", flags holding master or
// slave. Not CLUSTER SLOTS: Redis 7 leaves out of it a replica that has
// not reported a replication offset yet, and a replica missing from the
// roles could not be recognised once promoted.
func parseNodes(reply string) *topology {
	t := &topology{masters: map[string]bool{}, replicas: map[string]bool{}}
	for _, line := range strings.Split(reply, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		for _, flag := range strings.Split(f[2], ",") {
			switch flag {
			case "master":
				t.masters[addr] = true
			case "slave":
				t.replicas[addr] = true
			}
		}
	}
	return t
}

// keySlot returns the hash slot of key, as Redis Cluster computes it:
// CRC16 (XMODEM) of the hash tag, the part between the first '{' and the
// next '}' when not empty, else of the whole key, modulo 16384.
func keySlot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % slotCount
}

// Stats are a Cluster's durability counters since New, as package
// cluster's. They only grow.
type Stats struct {
	// UnconfirmedDeletes counts deletes that fewer than DeleteReplicas
	// replicas confirmed within the timeout.
	UnconfirmedDeletes int64
	// Journalled counts those deletes recorded in the revocation journal.
	Journalled int64
	// Failovers counts the masters this process saw promoted from
	// replicas (a request routed to a node it knew as a replica).
	Failovers int64
	// Replayed counts sessions that the replay of the journal found on a
	// new master and deleted again (one a load had met first is counted
	// in RevokedOnLoad instead).
	Replayed int64
	// RevokedOnLoad counts sessions found on a newly promoted master
	// although the journal says they were deleted; they were deleted again.
	RevokedOnLoad int64
}

// Stats returns the Cluster's durability counters.
func (c *Cluster) Stats() Stats {
	r := &c.revocation
	return Stats{
		UnconfirmedDeletes: r.unconfirmed.Load(),
		Journalled:         r.journalled.Load(),
		Failovers:          r.failovers.Load(),
		Replayed:           r.replayed.Load(),
		RevokedOnLoad:      r.revokedOnLoad.Load(),
	}
}
