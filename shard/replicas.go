package shard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shardsession/shardsession/failover"
)

// replicaFinder finds the replicas of a shard managed by Sentinel: it asks
// the sentinels for the current primary (SENTINEL GET-MASTER-ADDR-BY-NAME)
// and its replicas (SENTINEL REPLICAS), keeps those the sentinel sees as
// up and linked, and gives each its own client built from the shard's
// client template, so that every read names the node that answered and
// the replica health checks (package replica) see every node. It is the
// replica.Discover of the shard's Set, called from the Set's check
// goroutine only; Close may run concurrently.
type replicaFinder struct {
	s   *Shard
	opt Options // the shard's options, defaults applied

	mu        sync.Mutex
	sentinels []failover.Sentinel      // the process's (useSentinels)
	clients   map[string]*redis.Client // by address; kept until Close
	epoch     int64                    // the config-epoch of the last view believed
	primary   string                   // the primary of the last view believed

	// switchTo is the primary of a +switch-master heard when the last view
	// believed (of switchEpoch) named another one; "" once a view names it
	// or a newer epoch is seen.
	switchTo    string
	switchEpoch int64

	closed bool
}

func newReplicaFinder(s *Shard, opt Options) *replicaFinder {
	return &replicaFinder{s: s, opt: opt, clients: map[string]*redis.Client{}}
}

// useSentinels gives the finder the clients it asks the sentinels with:
// the process's own, shared by its shards (failover.Watcher.Sentinels).
func (f *replicaFinder) useSentinels(sentinels []failover.Sentinel) {
	f.mu.Lock()
	f.sentinels = sentinels
	f.mu.Unlock()
}

// discover asks every sentinel for the primary and its replicas and
// believes the newest view: the highest config-epoch and, among views of
// one epoch (a failover's epoch is announced before its switch is done),
// the one naming the primary of the last switch the watcher heard
// (noteSwitch), else one whose primary is not flagged down or in failover.
// A view older than one already believed, or naming another primary than
// a switch heard since with no newer epoch, is not believed: the Set then
// keeps what it knew. Right after a failover a sentinel that has not heard
// of it yet still names the deposed primary.
func (f *replicaFinder) discover(ctx context.Context) (string, []*redis.Client, error) {
	views := askEach(f, func(sc failover.Sentinel) sentinelView { return f.ask(ctx, sc) })
	f.mu.Lock()
	defer f.mu.Unlock()
	rank := func(v sentinelView) []int64 {
		return []int64{v.epoch, bool01(f.switchTo != "" && v.primary == f.switchTo), bool01(!v.down)}
	}
	best := -1
	var errs []error
	for i, v := range views {
		if v.err != nil {
			errs = append(errs, v.err)
		} else if best < 0 || slices.Compare(rank(v), rank(views[best])) > 0 {
			best = i
		}
	}
	if best < 0 {
		return "", nil, fmt.Errorf("shard %s: %w: no sentinel answered: %w", f.s.name, ErrUnavailable, errors.Join(errs...))
	}
	f.s.noteDownAfter(minDownAfter(views))
	v := views[best]
	if v.epoch < f.epoch || f.switchTo != "" && v.primary != f.switchTo && v.epoch <= f.switchEpoch {
		return "", nil, fmt.Errorf("shard %s: the sentinels' newest view (primary %s, epoch %d) is older than one already seen", f.s.name, v.primary, v.epoch)
	}
	f.epoch, f.primary = v.epoch, v.primary
	if v.epoch > f.switchEpoch {
		f.switchTo = "" // a newer configuration than the switch heard
	}
	clients, err := f.clientsForLocked(v.replicas)
	return v.primary, clients, err
}

// minDownAfter returns the smallest down-after-milliseconds among the
// views that gave one, 0 if none did.
func minDownAfter(views []sentinelView) time.Duration {
	var d time.Duration
	for _, v := range views {
		if v.err == nil && v.downAfter > 0 && (d == 0 || v.downAfter < d) {
			d = v.downAfter
		}
	}
	return d
}

func bool01(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// noteSwitch records that the watcher heard a +switch-master to addr: a
// view naming another primary is not believed unless its epoch is newer
// than every one seen so far.
func (f *replicaFinder) noteSwitch(addr string) {
	f.mu.Lock()
	if addr != f.primary {
		f.switchTo, f.switchEpoch = addr, f.epoch
	}
	f.mu.Unlock()
}

// sentinelView is one sentinel's answer: the primary's address, the
// configuration epoch it is from, and the replicas it can reach.
type sentinelView struct {
	primary   string
	epoch     int64
	down      bool          // the primary is flagged s_down, o_down or failover_in_progress
	downAfter time.Duration // the sentinel's down-after-milliseconds; 0 if not given
	replicas  []string
	err       error
}

// askEach asks every sentinel at once, and returns their answers in the
// sentinels' order.
func askEach[T any](f *replicaFinder, ask func(failover.Sentinel) T) []T {
	f.mu.Lock()
	sentinels := f.sentinels
	f.mu.Unlock()
	answers := make([]T, len(sentinels))
	var wg sync.WaitGroup
	for i, sc := range sentinels {
		wg.Go(func() { answers[i] = ask(sc) })
	}
	wg.Wait()
	return answers
}

// masterAddr asks one sentinel which node is the primary. SENTINEL MASTER
// names the old primary until +switch-master; GET-MASTER-ADDR-BY-NAME
// names the promoted replica as soon as it has become a primary, which is
// when a deposed primary may come back and be answered by clients that
// were waiting on it.
func (f *replicaFinder) masterAddr(ctx context.Context, sc failover.Sentinel) (string, error) {
	reply, err := sc.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", f.opt.Sentinel.MasterName)
	hp, _ := reply.([]any)
	host, _ := at(hp, 0).(string)
	port, _ := at(hp, 1).(string)
	if err != nil || len(hp) != 2 || host == "" || port == "" {
		return "", fmt.Errorf("sentinel %s: master address %v: %w", sc.Addr(), reply, err)
	}
	return net.JoinHostPort(host, port), nil
}

// allName reports whether every sentinel that answers, and at least one,
// names addr primary: one question to each, where discover asks three.
func (f *replicaFinder) allName(ctx context.Context, addr string) bool {
	named := askEach(f, func(sc failover.Sentinel) string {
		a, _ := f.masterAddr(ctx, sc)
		return a
	})
	answered := false
	for _, a := range named {
		if a != "" && a != addr {
			return false
		}
		answered = answered || a != ""
	}
	return answered
}

// ask asks one sentinel for the primary (SENTINEL GET-MASTER-ADDR-BY-NAME,
// with its config-epoch and flags from SENTINEL MASTER) and the
// addresses of the replicas it can reach: not subjectively or objectively
// down, not disconnected. Whether a replica's link to the primary is up is
// left to the Set's own check of the node (INFO replication, every
// CheckInterval): the sentinel's view of it is up to 10 s old, and while
// the primary is down every replica's link is, yet they are the ones that
// serve degraded reads.
func (f *replicaFinder) ask(ctx context.Context, sc failover.Sentinel) sentinelView {
	name := f.opt.Sentinel.MasterName
	reply, err := sc.Do(ctx, "SENTINEL", "MASTER", name)
	m, ok := pairs(reply)
	if err != nil || !ok {
		return sentinelView{err: fmt.Errorf("sentinel %s: master %v: %w", sc.Addr(), reply, err)}
	}
	epoch, err := strconv.ParseInt(m["config-epoch"], 10, 64)
	if err != nil {
		return sentinelView{err: fmt.Errorf("sentinel %s: master %v", sc.Addr(), m)}
	}
	primary, err := f.masterAddr(ctx, sc)
	if err != nil {
		return sentinelView{err: err}
	}
	v := sentinelView{primary: primary, epoch: epoch}
	if ms, err := strconv.ParseInt(m["down-after-milliseconds"], 10, 64); err == nil {
		v.downAfter = time.Duration(ms) * time.Millisecond
	}
	for _, flag := range strings.Split(m["flags"], ",") {
		v.down = v.down || flag == "s_down" || flag == "o_down" || strings.HasPrefix(flag, "failover_")
	}
	reply, err = sc.Do(ctx, "SENTINEL", "REPLICAS", name)
	reps, _ := reply.([]any)
	if err != nil || reply != nil && reps == nil {
		return sentinelView{err: fmt.Errorf("sentinel %s: replicas %v: %w", sc.Addr(), reply, err)}
	}
	for _, rep := range reps {
		r, ok := pairs(rep)
		if !ok || !fitReplica(r) {
			continue
		}
		if a := net.JoinHostPort(r["ip"], r["port"]); a != v.primary {
			v.replicas = append(v.replicas, a)
		}
	}
	return v
}

// pairs reads a RESP3 map (flattened: key, value, ...) of strings.
func pairs(v any) (map[string]string, bool) {
	items, ok := v.([]any)
	if !ok || len(items)%2 != 0 {
		return nil, false
	}
	m := make(map[string]string, len(items)/2)
	for i := 0; i < len(items); i += 2 {
		k, ok := items[i].(string)
		if !ok {
			return nil, false
		}
		switch val := items[i+1].(type) {
		case string:
			m[k] = val
		case int64:
			m[k] = strconv.FormatInt(val, 10)
		}
	}
	return m, true
}

// at returns items[i], or nil past its end.
func at(items []any, i int) any {
	if i < len(items) {
		return items[i]
	}
	return nil
}

// fitReplica reports whether a replica as SENTINEL REPLICAS describes it
// is worth checking: no s_down, o_down or disconnected flag.
func fitReplica(r map[string]string) bool {
	for _, flag := range strings.Split(r["flags"], ",") {
		switch flag {
		case "s_down", "o_down", "disconnected":
			return false
		}
	}
	return r["ip"] != "" && r["port"] != ""
}

// clientsForLocked returns a client per address, made on first sight from the
// shard's client template (so credentials, TLS and dialer carry over) with
// a breaker and the observer, and kept until Close: a node that leaves and
// comes back gets its client back.
func (f *replicaFinder) clientsForLocked(addrs []string) ([]*redis.Client, error) {
	if f.closed {
		return nil, fmt.Errorf("shard %s: %w", f.s.name, redis.ErrClosed)
	}
	out := make([]*redis.Client, 0, len(addrs))
	for _, a := range addrs {
		c := f.clients[a]
		if c == nil {
			c = redis.NewClient(f.opt.clientFor(a))
			f.s.reaper.Watch(c)
			f.s.guardReplica(c, f.opt)
			f.s.instrumentReplica(c, f.opt)
			f.clients[a] = c
		}
		out = append(out, c)
	}
	return out, nil
}

// Close closes every client the finder made.
func (f *replicaFinder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	var errs []error
	for _, c := range f.clients {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
